/**
 * Project rules the compiler does not check:
 * - every export of a public module (src/*.ts, src/testing/*.ts) has JSDoc with `@since`; exported
 *   values (functions, constants, classes) also carry an `@example`;
 * - the library never calls `process.exit` nor writes to the console (it logs through Effect);
 * - examples use only the public API (`operatorkit`, not `src/` or `internal/`);
 * - imports point the way ARCHITECTURE.md says ("Which way imports point"), reading its import
 *   order: a public module imports only modules listed before it; internal/ imports public modules'
 *   values only from before every public module using it (types freely); nothing outside
 *   src/testing/ imports src/testing/, and no production entry point loads it, directly or not.
 *
 *   node scripts/lint.ts [root]     (root: the repository, by default this one)
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

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

/** One import of a file: what it names, where it resolves, whether it brings types only. */
interface Import {
  readonly spec: string
  /** The file it resolves to (relative specifiers only). */
  readonly target: string | undefined
  readonly typeOnly: boolean
  readonly node: ts.Node
}

const importsOf = (file: string, sf: ts.SourceFile): Array<Import> => {
  const out: Array<Import> = []
  const add = (literal: ts.Expression | undefined, typeOnly: boolean, node: ts.Node) => {
    if (literal === undefined || !ts.isStringLiteral(literal)) return
    const spec = literal.text
    out.push({ spec, target: spec.startsWith(".") ? Path.resolve(Path.dirname(file), spec) : undefined, typeOnly, node })
  }
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (
        clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) &&
        clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)
      ))
      add(node.moduleSpecifier, typeOnly, node)
    } else if (ts.isExportDeclaration(node)) {
      const typeOnly = node.isTypeOnly || (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
        node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly))
      add(node.moduleSpecifier, typeOnly, node)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false, node)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true, node)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return out
}

/**
 * The import order of ARCHITECTURE.md: the text block after the `import order` comment, one line
 * per rank; modules on one line ("Kind, kinds/*") are one unit and may import each other.
 */
export const readOrder = (architecture: string): ReadonlyArray<ReadonlyArray<string>> | undefined => {
  const marker = architecture.indexOf("<!-- import order")
  if (marker === -1) return undefined
  const block = /```text\n([\s\S]*?)```/.exec(architecture.slice(marker))
  return block?.[1]?.split("\n").map((l) => l.split(",").map((m) => m.trim()).filter((m) => m !== "")).filter((l) => l.length > 0)
}

/** Every problem the rules find in the repository at `root`. */
export const lint = (root: string): Array<string> => {
  const problems: Array<string> = []
  const src = Path.join(root, "src")
  const rel = (file: string) => Path.relative(root, file)
  const parsed = new Map<string, ts.SourceFile>()
  const sourceOf = (file: string) => {
    let sf = parsed.get(file)
    if (sf === undefined) {
      sf = ts.createSourceFile(file, Fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
      parsed.set(file, sf)
    }
    return sf
  }
  const report = (file: string, node: ts.Node | undefined, text: string) => {
    const sf = node?.getSourceFile()
    const line = sf && node ? sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 : 0
    problems.push(`${rel(file)}:${line}: ${text}`)
  }
  const inside = (dir: string, file: string) => !Path.relative(dir, file).startsWith("..")
  const testingDir = Path.join(src, "testing")
  const internalDir = Path.join(src, "internal")
  const binDir = Path.join(src, "bin")
  const kindsDir = Path.join(src, "kinds")
  const srcFiles = walk(src)

  // JSDoc, process.exit and console
  for (const file of srcFiles) {
    const sf = sourceOf(file)
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node)) {
        const callee = node.expression.getText(sf)
        if (callee === "process.exit") report(file, node, "the library must not call process.exit")
        if (/^console\.(log|error|warn|info|debug)$/.test(callee)) report(file, node, `the library must not call ${callee}; log through Effect`)
        // one implementation of each mechanism (ARCHITECTURE.md): metric names and duration options
        if (/^Metric\.(counter|gauge|histogram|summary|frequency)$/.test(callee) && node.arguments[0] !== undefined && ts.isStringLiteralLike(node.arguments[0]) &&
          rel(file) !== Path.join("src", "internal", "metrics.ts")) {
          report(file, node, "a metric named here: define it in src/internal/metrics.ts (every metric's name, help and buckets are defined once)")
        }
        if (callee === "Duration.toMillis" && node.arguments[0] !== undefined && ts.isCallExpression(node.arguments[0]) &&
          node.arguments[0].expression.getText(sf) === "Duration.fromInputUnsafe" && rel(file) !== Path.join("src", "internal", "options.ts")) {
          report(file, node, "a duration option read here: use millis from src/internal/options.ts")
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
    // private: internal/, bin/, and the parts of the testing entry point under testing/<part>/
    const r = Path.relative(src, file)
    if (r.startsWith("internal") || r.startsWith("bin") || /^testing[\\/][^\\/]+[\\/]/.test(r)) continue
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
    for (const i of importsOf(file, sourceOf(file))) {
      if (/(^|\/)src\/|internal/.test(i.spec)) report(file, i.node, `examples import only the public API, not ${i.spec}`)
    }
  }

  // ---- import directions (ARCHITECTURE.md) ----
  const architecturePath = Path.join(root, "ARCHITECTURE.md")
  const order = Fs.existsSync(architecturePath) ? readOrder(Fs.readFileSync(architecturePath, "utf8")) : undefined
  if (order === undefined) {
    problems.push("ARCHITECTURE.md: no import order (a ```text block after an `<!-- import order` comment)")
    return problems
  }
  const rank = new Map(order.flatMap((line, i) => line.map((name) => [name, i] as const)))
  /** The public module a file is, as the order names it. */
  const publicName = (file: string): string | undefined => {
    if (inside(kindsDir, file)) return "kinds/*"
    return Path.dirname(file) === src && file.endsWith(".ts") && Path.basename(file) !== "index.ts"
      ? Path.basename(file, ".ts")
      : undefined
  }
  const resolved = (target: string) => (Fs.existsSync(target) ? target : undefined)
  const imports = new Map(srcFiles.map((f) => [f, importsOf(f, sourceOf(f))]))

  for (const file of srcFiles) {
    const name = publicName(file)
    if (name !== undefined && !rank.has(name)) {
      problems.push(`${rel(file)}: a public module missing from ARCHITECTURE.md's import order: place it there`)
    }
  }
  for (const name of order.flat()) {
    const exists = name === "kinds/*" ? Fs.existsSync(kindsDir) : Fs.existsSync(Path.join(src, `${name}.ts`))
    if (!exists) problems.push(`ARCHITECTURE.md: the import order lists ${name}, which is not a module of src/`)
  }

  // rule 3: nothing outside src/testing/ imports it (the package's own name included)
  for (const file of srcFiles) {
    if (inside(testingDir, file)) continue
    for (const i of imports.get(file)!) {
      if ((i.target !== undefined && inside(testingDir, i.target)) || /^operatorkit\/testing(\/|$)/.test(i.spec)) {
        report(file, i.node, `production code imports test code (${i.spec}): src/testing/ is imported by tests and by itself only`)
      }
    }
  }

  // rule 1: a public module imports modules listed before it
  for (const file of srcFiles) {
    const name = publicName(file)
    if (name === undefined || !rank.has(name)) continue
    for (const i of imports.get(file)!) {
      const target = i.target !== undefined ? resolved(i.target) : undefined
      const other = target !== undefined ? publicName(target) : undefined
      if (other === undefined || other === name || !rank.has(other)) continue
      if (rank.get(other)! > rank.get(name)!) {
        report(file, i.node, `${name} imports ${other}, which ARCHITECTURE.md's import order lists after it: imports point down the data flow`)
      }
    }
  }

  // rule 2: internal/ runs below its users
  const internalFiles = srcFiles.filter((f) => inside(internalDir, f))
  const users = new Map<string, Set<string>>(internalFiles.map((f) => [f, new Set()]))
  for (const file of srcFiles) {
    const name = publicName(file)
    if (name === undefined || !rank.has(name)) continue
    // the internal files this public module loads, directly or through other internal files
    const seen = new Set<string>()
    const queue = [file]
    while (queue.length > 0) {
      const at = queue.shift()!
      for (const i of imports.get(at) ?? []) {
        const target = i.target !== undefined ? resolved(i.target) : undefined
        if (target === undefined || !inside(internalDir, target) || seen.has(target)) continue
        seen.add(target)
        users.get(target)?.add(name)
        queue.push(target)
      }
    }
  }
  for (const file of internalFiles) {
    const using = [...users.get(file)!]
    if (using.length === 0) continue
    const first = using.reduce((a, b) => (rank.get(a)! <= rank.get(b)! ? a : b))
    for (const i of imports.get(file)!) {
      if (i.typeOnly) continue
      const target = i.target !== undefined ? resolved(i.target) : undefined
      const other = target !== undefined ? publicName(target) : undefined
      if (other === undefined || !rank.has(other)) continue
      if (rank.get(other)! >= rank.get(first)!) {
        report(
          file,
          i.node,
          `${rel(file)} serves ${first} but imports a value of ${other}, which is not listed before ${first}: internal code imports public modules for their types only, or values from below its users`
        )
      }
    }
  }

  // rule 4 and the barrel: bin/ and index.ts never reach test code, directly or not
  const testCode = (file: string) => inside(testingDir, file)
  const entries = [
    ...Fs.readdirSync(src).filter((f) => f.endsWith(".ts")).map((f) => Path.join(src, f)),
    ...walk(binDir)
  ]
  for (const start of entries) {
    const seen = new Map<string, string | undefined>([[start, undefined]])
    const queue = [start]
    while (queue.length > 0) {
      const file = queue.shift()!
      for (const i of imports.get(file) ?? []) {
        const dep = i.target
        if (dep === undefined || seen.has(dep)) continue
        seen.set(dep, file)
        if (testCode(dep)) {
          const chain = [dep]
          for (let at: string | undefined = file; at !== undefined; at = seen.get(at)) chain.unshift(at)
          problems.push(`${rel(start)}: a production entry point loads test code: ${chain.map(rel).join(" -> ")}`)
        } else if (Fs.existsSync(dep)) queue.push(dep)
      }
    }
  }
  return problems
}

if (import.meta.main) {
  const root = Path.resolve(process.argv[2] ?? Path.join(import.meta.dirname, ".."))
  const problems = lint(root)
  if (problems.length > 0) {
    process.stderr.write(problems.join("\n") + `\n\nlint: ${problems.length} problem(s)\n`)
    process.exitCode = 1
  } else {
    process.stdout.write("lint: ok\n")
  }
}
