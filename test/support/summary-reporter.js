const { rmSync } = require('node:fs');

/**
 * Prints the plain closing line CI reads ("N passed, N failed, N skipped") after jest's summary,
 * and before it the ASL path coverage of the workflow tests, one line per ASL file. When every
 * workflow test file ran, a path that is neither covered nor tolerated in asl-paths-pending.json
 * (or a pending entry that is covered now) fails the run through getLastError.
 */
class SummaryReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
    this.lastError = undefined;
  }

  onRunComplete(_contexts, results) {
    this.reportAslPaths(results);
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    const failed = numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
    process.stdout.write(
      `tests: ${numPassedTests} passed, ${failed} failed, ${numPendingTests + numTodoTests} skipped\n`,
    );
  }

  reportAslPaths(results) {
    // The summary is TypeScript shared with the recorder; jest's transform does not reach reporters, tsx does.
    const { ASL_PATHS_DIR, summarizeAslPaths } = require('tsx/cjs/api').require('./asl-paths.ts', __filename);
    const dir = process.env[ASL_PATHS_DIR];
    if (!dir) return;
    try {
      const summary = summarizeAslPaths({
        root: this.globalConfig.rootDir ?? process.cwd(),
        dir,
        ranTestFiles: results.testResults.map((r) => r.testFilePath),
        filtered: Boolean(this.globalConfig.testNamePattern),
      });
      for (const line of summary.lines) process.stdout.write(`${line}\n`);
      this.lastError = summary.failure
        ? new Error(`ASL path coverage: not every path is covered or pending\n${summary.failure}`)
        : undefined;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Jest fails the run when a reporter returns an error here. */
  getLastError() {
    return this.lastError;
  }
}
module.exports = SummaryReporter;
