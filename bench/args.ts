/** The bench scripts' flags: `--name value`, or the default when the flag is absent. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}
