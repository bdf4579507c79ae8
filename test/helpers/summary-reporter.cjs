// Prints the one closing line CI reads: "N passed, N failed[, N skipped]".
// Jest adds its own summary reporter after every configured one, so the line is written when the process
// exits, synchronously, to stay the last line of the output.
const { writeSync } = require('node:fs');

let closingLine;
process.once('exit', () => {
  if (closingLine) writeSync(1, `\n${closingLine}\n`);
});

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    closingLine = `${results.numPassedTests} passed, ${failed} failed`;
    if (skipped) closingLine += `, ${skipped} skipped`;
  }
}
module.exports = SummaryReporter;
