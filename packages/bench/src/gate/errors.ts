import { UsageError } from '@crispr-bench/core';

/** The baseline and the candidate cannot be compared (different items or configs, unreadable folders): exit status 2. */
export class IncomparableError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'IncomparableError';
  }
}
