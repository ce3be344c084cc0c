/**
 * Lists every export of every public entry point of the package, with its kind, as the
 * TypeScript checker sees it (re-exports resolved):
 *
 *   node scripts/exports.ts                 one line per export: `<entry point> <name> <kind>`
 *   node scripts/exports.ts --summary       counts per entry point
 *   node scripts/exports.ts --diff A B      what B removed, added and kept relative to A (two saved listings)
 *
 * The entry points are those of package.json's `exports`: `operatorkit` (src/index.ts, one namespace
 * per module), every `operatorkit/<Module>` (src/*.ts but index.ts), `operatorkit/testing` and
 * `operatorkit/kinds/<group>/<version>`. The generated kinds are counted per module, not listed
 * one by one (thousands of schemas: `--kinds` lists them too).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(import.meta.dirname, "..")
const args = process.argv.slice(2)

const readListing = (file: string) =>
  new Map(
    Fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).map((l) => {
      const [entry, name, kind] = l.split(/\s+/)
      return [`${entry} ${name}`, kind ?? ""] as const
    })
  )

if (args[0] === "--diff") {
  const before = readListing(args[1]!)
  const after = readListing(args[2]!)
  const removed = [...before.keys()].filter((k) => !after.has(k))
  const added = [...after.keys()].filter((k) => !before.has(k))
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k))
  process.stdout.write(`before ${before.size}, after ${after.size}: ${removed.length} removed, ${added.length} added, ${changed.length} changed kind\n`)
  for (const k of removed) process.stdout.write(`- ${k} ${before.get(k)}\n`)
  for (const k of added) process.stdout.write(`+ ${k} ${after.get(k)}\n`)
  for (const k of changed) process.stdout.write(`~ ${k} ${before.get(k)} -> ${after.get(k)}\n`)
  process.exit(0)
}

const entries: Array<{ readonly name: string; readonly file: string; readonly generated: boolean }> = []
const src = Path.join(root, "src")
// subpaths the exports map closes (`"./Testing": null`)
const closed = new Set(
  Object.entries((JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> }).exports)
    .filter(([, target]) => target === null).map(([subpath]) => subpath.replace(/^\.\//, ""))
)
for (const f of Fs.readdirSync(src).filter((f) => f.endsWith(".ts") && !closed.has(f.slice(0, -3))).sort()) {
  entries.push({ name: f === "index.ts" ? "operatorkit" : `operatorkit/${f.slice(0, -3)}`, file: Path.join(src, f), generated: false })
}
if (Fs.existsSync(Path.join(src, "testing", "index.ts"))) {
  entries.push({ name: "operatorkit/testing", file: Path.join(src, "testing", "index.ts"), generated: false })
}
for (const group of Fs.readdirSync(Path.join(src, "kinds")).sort()) {
  for (const v of Fs.readdirSync(Path.join(src, "kinds", group)).filter((f) => f.endsWith(".ts")).sort()) {
    entries.push({ name: `operatorkit/kinds/${group}/${v.slice(0, -3)}`, file: Path.join(src, "kinds", group, v), generated: true })
  }
}

const config = ts.getParsedCommandLineOfConfigFile(Path.join(root, "tsconfig.json"), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
  }
})!
const program = ts.createProgram(entries.map((e) => e.file), config.options)
const checker = program.getTypeChecker()

const kindOf = (symbol: ts.Symbol): string => {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  const f = target.flags
  if (f & ts.SymbolFlags.ValueModule || f & ts.SymbolFlags.NamespaceModule) return "namespace"
  if (f & ts.SymbolFlags.Class) return "class"
  if (f & ts.SymbolFlags.Function) return "function"
  if (f & ts.SymbolFlags.Enum) return "enum"
  const value = f & ts.SymbolFlags.Variable
  const type = f & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)
  if (value && type) return "const+type"
  if (value) return "const"
  if (f & ts.SymbolFlags.Interface) return "interface"
  if (f & ts.SymbolFlags.TypeAlias) return "type"
  return "other"
}

const entryFiles = new Set(entries.map((e) => Path.resolve(e.file)))
const namespaceMembers = (symbol: ts.Symbol): ReadonlyArray<ts.Symbol> | undefined => {
  if (!(symbol.flags & ts.SymbolFlags.Alias)) return undefined
  const target = checker.getAliasedSymbol(symbol)
  const file = target.valueDeclaration ?? target.declarations?.[0]
  if (file === undefined || !ts.isSourceFile(file) || entryFiles.has(Path.resolve(file.fileName))) return undefined
  return [...checker.getExportsOfModule(target)].sort((a, b) => a.name.localeCompare(b.name))
}

const lines: Array<string> = []
const summary: Array<string> = []
let total = 0
let generated = 0
for (const entry of entries) {
  const sf = program.getSourceFile(entry.file)
  const moduleSymbol = sf !== undefined ? checker.getSymbolAtLocation(sf) : undefined
  const exports = moduleSymbol !== undefined ? checker.getExportsOfModule(moduleSymbol) : []
  summary.push(`${entry.name} ${exports.length}`)
  if (entry.generated) generated += exports.length
  else total += exports.length
  if (entry.generated && !args.includes("--kinds")) continue
  for (const symbol of [...exports].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push(`${entry.name} ${symbol.name} ${kindOf(symbol)}`)
    // a namespace of a module that is no entry point of its own (operatorkit/testing's): its members too
    const members = namespaceMembers(symbol)
    if (members !== undefined) {
      for (const m of members) lines.push(`${entry.name} ${symbol.name}.${m.name} ${kindOf(m)}`)
      total += members.length
    }
  }
}

if (args.includes("--summary")) {
  process.stdout.write(summary.join("\n") + `\n# ${total} exports in the hand-written entry points, ${generated} in the generated kinds\n`)
} else {
  process.stdout.write(`# ${total} exports in the hand-written entry points (${generated} more in the generated kinds, counted by --summary)\n`)
  process.stdout.write(lines.join("\n") + "\n")
}
