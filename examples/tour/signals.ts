// Signals: the tour sends itself SIGUSR2; asyncuv and Node both see it.
import { Signal } from '../../handles/index.js';
import type { TourStep } from './step.js';

export const signals: TourStep = {
  title: 'signals',
  async run(ctx) {
    ctx.progress('signals: sending SIGUSR2 to ourselves');
    let nodeSaw = false;
    const onNode = (): void => {
      nodeSaw = true;
    };
    process.on('SIGUSR2', onNode);
    const start = performance.now();
    const signum = await new Promise<number>((resolve) => {
      const signal = new Signal();
      signal.start((n) => signal.close(() => resolve(n)), 'SIGUSR2');
      process.kill(process.pid, 'SIGUSR2');
    });
    const ms = performance.now() - start;
    // Node's listener may run a moment later; give it that moment.
    await new Promise((resolve) => setTimeout(resolve, 10));
    process.off('SIGUSR2', onNode);
    return [
      `SIGUSR2 (signal ${signum}) reached an asyncuv Signal in ${ms.toFixed(2)} ms`,
      `Node's own process.on('SIGUSR2') saw it too: ${nodeSaw ? 'yes' : 'no'}`,
    ];
  },
};
