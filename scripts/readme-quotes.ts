/**
 * Rewrites the README's quotes (`<!-- quote: <file> -->` followed by a ts block) from the files they
 * quote, after a change to those files; examples/tutorial/readme.test.ts checks they agree.
 *
 *   node scripts/readme-quotes.ts
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const readmePath = Path.join(root, "README.md")
const readme = Fs.readFileSync(readmePath, "utf8")
const updated = readme.replace(
  /<!-- quote: (\S+) -->\n```ts\n[\s\S]*?```\n/g,
  (_, file: string) => `<!-- quote: ${file} -->\n\`\`\`ts\n${Fs.readFileSync(Path.join(root, file), "utf8")}\`\`\`\n`
)
if (updated !== readme) Fs.writeFileSync(readmePath, updated)
process.stdout.write(updated !== readme ? "README.md: quotes updated\n" : "README.md: quotes already current\n")
