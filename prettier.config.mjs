// Prettier formats every TypeScript and JavaScript source; 100 columns as
// clang-format's ColumnLimit for native/.
export default {
  printWidth: 100,
  singleQuote: true,
  trailingComma: 'all',
};
