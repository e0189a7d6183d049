// Timers and the loop phases, on the default loop (embedded: no run() call).
import { Check, Idle, Loop, Prepare, Timer } from '../../handles/index.js';
import type { TourStep } from './step.js';

export const timers: TourStep = {
  title: 'timers',
  async run(ctx) {
    const lines: string[] = [];

    // A one-shot timer: how late does a 50 ms timer fire?
    const start = performance.now();
    const late = await new Promise<number>((resolve) => {
      const timer = new Timer();
      timer.start(() => {
        timer.close();
        resolve(performance.now() - start - 50);
      }, 50);
    });
    lines.push(`one-shot 50 ms timer fired ${late.toFixed(1)} ms late`);

    // A repeating timer that stops itself after 5 ticks.
    const ticks = await new Promise<number[]>((resolve) => {
      const at: number[] = [];
      const timer = new Timer();
      const t0 = performance.now();
      timer.start(
        () => {
          at.push(Math.round(performance.now() - t0));
          ctx.progress(`timers: repeating timer, tick ${at.length}/5`);
          if (at.length === 5) timer.close(() => resolve(at));
        },
        20,
        20,
      );
    });
    lines.push(`repeating 20 ms timer ticked at ${ticks.join(', ')} ms`);

    // One iteration of a private loop, run blocking: the phase order.
    const loop = new Loop();
    const order: string[] = [];
    const handles = [new Timer(loop), new Idle(loop), new Prepare(loop), new Check(loop)] as const;
    handles[0].start(() => order.push('timer'), 0);
    handles[1].start(() => order.push('idle'));
    handles[2].start(() => order.push('prepare'));
    handles[3].start(() => order.push('check'));
    loop.run('nowait');
    for (const h of handles) h.close();
    loop.close();
    lines.push(`one run('nowait') of a private loop: ${order.join(' -> ')}`);
    return lines;
  },
};
