/**
 * Project rules the compiler does not check:
 * - every export of a public module (src/*.ts) has JSDoc with `@since`; exported values
 *   (functions, constants, classes) also carry an `@example`;
 * - the library never calls `process.exit` nor writes to the console (it logs through Effect);
 * - examples use only the public API (`operatorkit`, not `src/` or `internal/`);
 * - production entry points (the barrel and every other `src/*.ts`) load no test code (src/testing/:
 *   the in-memory server, Envtest and the test helpers), directly or not.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(import.meta.dirname, "..")
const problems: Array<string> = []
const report = (file: string, node: ts.Node | undefined, text: string) => {
  const sf = node?.getSourceFile()
  const line = sf && node ? sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 : 0
  problems.push(`${Path.relative(root, file)}:${line}: ${text}`)
}

const walk = (dir: string): Array<string> =>
  Fs.existsSync(dir)
    ? Fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(Path.join(dir, e.name)) : e.name.endsWith(".ts") ? [Path.join(dir, e.name)] : []
    )
    : []

const isExported = (node: ts.Node) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const jsDocTags = (node: ts.Node) => {
  const docs = (node as { jsDoc?: Array<ts.JSDoc> }).jsDoc ?? []
  const all = docs.flatMap((d) => d.tags ?? [])
  const category = all.find((t) => t.tagName.text === "category")
  return {
    has: docs.length > 0,
    tags: all.map((t) => t.tagName.text),
    category: typeof category?.comment === "string" ? category.comment.trim() : undefined
  }
}

const nameOf = (node: ts.Node): string => {
  if (ts.isVariableStatement(node)) return node.declarationList.declarations.map((d) => d.name.getText()).join(", ")
  const named = node as { name?: ts.Node }
  return named.name?.getText() ?? "<anonymous>"
}

// public modules
for (const file of walk(Path.join(root, "src"))) {
  const rel = Path.relative(Path.join(root, "src"), file)
  const sf = ts.createSourceFile(file, Fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression.getText(sf)
      if (callee === "process.exit") report(file, node, "the library must not call process.exit")
      if (/^console\.(log|error|warn|info|debug)$/.test(callee)) report(file, node, `the library must not call ${callee}; log through Effect`)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  // private: internal/, bin/, and the parts of the testing entry point under testing/<part>/
  if (rel.startsWith("internal") || rel.startsWith("bin") || /^testing[\\/][^\\/]+[\\/]/.test(rel)) continue
  for (const statement of sf.statements) {
    if (!isExported(statement)) continue
    const { category, has, tags } = jsDocTags(statement)
    const name = nameOf(statement)
    if (!has) {
      report(file, statement, `export ${name} has no JSDoc`)
      continue
    }
    if (!tags.includes("since")) report(file, statement, `export ${name} has no @since`)
    const isValue = ts.isVariableStatement(statement) || ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)
    if (isValue && !tags.includes("example") && !tags.includes("internal") && category !== "type IDs") {
      report(file, statement, `export ${name} has no @example`)
    }
  }
}

// examples use the public API only
for (const file of walk(Path.join(root, "examples"))) {
  const sf = ts.createSourceFile(file, Fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  for (const statement of sf.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue
    const spec = statement.moduleSpecifier
    if (spec === undefined || !ts.isStringLiteral(spec)) continue
    if (/(^|\/)src\/|internal/.test(spec.text)) report(file, statement, `examples import only the public API, not ${spec.text}`)
  }
}

// production entry points load no test code
const testCode = (file: string) => {
  const rel = Path.relative(Path.join(root, "src"), file)
  return rel.startsWith(`testing${Path.sep}`)
}
const importsOf = (file: string): Array<string> =>
  ts.preProcessFile(Fs.readFileSync(file, "utf8"), true, true).importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => Path.resolve(Path.dirname(file), spec))
for (const entry of Fs.readdirSync(Path.join(root, "src")).filter((f) => f.endsWith(".ts"))) {
  const start = Path.join(root, "src", entry)
  const seen = new Map<string, string | undefined>([[start, undefined]])
  const queue = [start]
  while (queue.length > 0) {
    const file = queue.shift()!
    for (const dep of importsOf(file)) {
      if (seen.has(dep)) continue
      seen.set(dep, file)
      if (testCode(dep)) {
        const chain = [dep]
        for (let at: string | undefined = file; at !== undefined; at = seen.get(at)) chain.unshift(at)
        problems.push(`src/${entry}: a production entry point loads test code: ${chain.map((f) => Path.relative(root, f)).join(" -> ")}`)
      } else if (Fs.existsSync(dep)) queue.push(dep)
    }
  }
}

if (problems.length > 0) {
  process.stderr.write(problems.join("\n") + `\n\nlint: ${problems.length} problem(s)\n`)
  process.exit(1)
}
process.stdout.write("lint: ok\n")
