// The argument validators' errors: a typed code and a message that says
// what the argument must be, also for NaN and the infinities.
import test from 'ava';
import { validateInteger, validateNumber } from '../../errors/validate.js';
import { UvEventLoop } from 'asyncuv';

test('a number outside its bounds: ERR_OUT_OF_RANGE naming both bounds', (t) => {
  t.throws(() => validateNumber(-1, 'n', 0, 10), {
    code: 'ERR_OUT_OF_RANGE',
    message: 'The value of "n" is out of range. It must be >= 0 and <= 10. Received -1',
  });
  t.throws(() => validateInteger(1.5, 'n'), {
    code: 'ERR_OUT_OF_RANGE',
    message: 'The value of "n" must be an integer. Received 1.5',
  });
  t.throws(() => validateNumber('1', 'n'), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('NaN and the infinities fail an unbounded range with "a finite number"', (t) => {
  for (const value of [NaN, Infinity, -Infinity]) {
    t.throws(() => validateNumber(value, 'x', -Infinity, Infinity), {
      code: 'ERR_OUT_OF_RANGE',
      message: `The value of "x" is out of range. It must be a finite number. Received ${value}`,
    });
  }
  t.throws(() => validateNumber(Infinity, 'x', 0, Infinity), {
    message: 'The value of "x" is out of range. It must be a finite number >= 0. Received Infinity',
  });
});

test('callLater and callAt refuse NaN and infinite times with that message', (t) => {
  const loop = new UvEventLoop();
  t.throws(() => loop.callLater(Infinity, () => {}), {
    code: 'ERR_OUT_OF_RANGE',
    message: /"delay" is out of range\. It must be a finite number\. Received Infinity/,
  });
  t.throws(() => loop.callAt(NaN, () => {}), {
    code: 'ERR_OUT_OF_RANGE',
    message: /"when" is out of range\. It must be a finite number\. Received NaN/,
  });
  t.deepEqual(loop.liveResources(), {});
  loop.close();
});
