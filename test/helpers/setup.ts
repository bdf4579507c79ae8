// Jest's buffered console swallows what oclif writes through console.log; runCommand captures a plain one.
import { Console } from 'node:console';
globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr });
