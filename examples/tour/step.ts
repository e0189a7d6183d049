// What one step of the tour is. Steps run in the order of tour/steps.ts.
export interface TourContext {
  /** Replaces the one-line progress display (stderr). */
  progress(message: string): void;
}

export interface TourStep {
  title: string;
  /**
   * Runs the step and returns its report lines. A step must close every
   * handle it opened: the tour checks that nothing is left at the end.
   */
  run(ctx: TourContext): Promise<string[]>;
}
