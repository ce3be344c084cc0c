/**
 * The library as a user installs it: packed with `npm pack`, installed into a fresh project outside
 * the repository, compiled there with `tsc` (strict, `skipLibCheck: false`), run on the in-memory
 * server and on Envtest (the README's tests, with vitest's default settings), its CLI run, and, with
 * the OpenTelemetry peers added, traced; and a project written by `operatorkit init` (plus a kind
 * from `operatorkit create api`), with the tarball installed, passes its own `npm test`. npm's cache
 * (filled by `npm ci`) answers the installs.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { installAsync, pack, root, run, tracingPeers } from "../../scripts/pack.ts"

const npmInstall = ["install", "--prefer-offline", "--no-package-lock"]

const fixtures = Path.join(import.meta.dirname, "consumer")
const tutorial = Path.join(root, "examples", "tutorial")

let tmp = ""
let project = ""
let tarball = ""
let installed = ""
let traced = ""

const node = (args: ReadonlyArray<string>, extraEnv: Record<string, string | undefined> = {}) =>
  run(process.execPath, args, project, extraEnv)
const bin = (name: string, args: ReadonlyArray<string>) => node([Path.join(project, "node_modules", ".bin", name), ...args])
const show = (r: { stdout: string; stderr: string }) => `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")

// Each step runs tsc, vitest or node in a child over the whole installed package: minutes on a busy machine.
describe("the packed library in a fresh project", { timeout: 300_000 }, () => {
  beforeAll(async () => {
    tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-package-"))
    tarball = pack(tmp)
    project = Path.join(tmp, "consumer")
    traced = Path.join(tmp, "traced")
    const tools = ["effect", "@effect/vitest", "vitest", "typescript", "@types/node"]
    // a project that does not trace, and one that does (with the optional OpenTelemetry peers)
    const [plainInstall] = await Promise.all([
      installAsync(project, tarball, tools),
      installAsync(traced, tarball, [...tools, ...tracingPeers()])
    ])
    installed = plainInstall.stdout
    Fs.copyFileSync(Path.join(fixtures, "tsconfig.json"), Path.join(traced, "tsconfig.json"))
    Fs.copyFileSync(Path.join(fixtures, "tracing.ts"), Path.join(traced, "tracing.ts"))
    for (const file of ["greeting.ts", "greeting.test.ts", "greeting.envtest.test.ts"]) {
      Fs.copyFileSync(Path.join(tutorial, file), Path.join(project, file))
    }
    for (const file of Fs.readdirSync(fixtures).filter((f) => f !== "tracing.ts")) {
      Fs.copyFileSync(Path.join(fixtures, file), Path.join(project, file))
    }
  }, 300_000)

  afterAll(() => {
    if (tmp !== "") Fs.rmSync(tmp, { recursive: true, force: true })
  })

  it("the package: LICENSE, where it comes from, effect as a peer, no OpenTelemetry or platform-node for everyone", () => {
    const dir = Path.join(project, "node_modules", "operatorkit")
    assert.include(Fs.readFileSync(Path.join(dir, "LICENSE"), "utf8"), "Apache License\n                           Version 2.0, January 2004")
    const manifest = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
    for (const field of ["repository", "bugs", "homepage"]) assert.isDefined(manifest[field], field)
    assert.isUndefined(manifest.dependencies?.effect, "effect is not a dependency (two copies would not share Context tags)")
    assert.isDefined(manifest.peerDependencies?.effect, "effect is a peer dependency")
    // a consumer that does not trace gets no OpenTelemetry SDK or exporter (only the API package, which
    // prom-client asks for) and no @effect/platform-node (which brings redis clients)
    const modules = Path.join(project, "node_modules")
    const otel = Fs.existsSync(Path.join(modules, "@opentelemetry")) ? Fs.readdirSync(Path.join(modules, "@opentelemetry")) : []
    assert.deepStrictEqual(otel.filter((p) => p !== "api"), [])
    assert.isFalse(Fs.existsSync(Path.join(modules, "@effect", "opentelemetry")))
    assert.isFalse(Fs.existsSync(Path.join(modules, "@effect", "platform-node")))
    // one copy of effect: the one the project installed
    const copies = run("npm", ["ls", "effect", "--all", "--parseable"], project).stdout.split("\n").filter((l) => l.endsWith(`${Path.sep}effect`))
    assert.deepStrictEqual(new Set(copies).size, 1, copies.join("\n"))
    assert.notInclude(installed, "ERESOLVE")
  })

  it("compiles with tsc in strict mode and skipLibCheck: false", () => {
    // tracing.ts needs the OpenTelemetry peers: it is compiled in the last test, once they are installed
    const files = ["greeting.ts", "greeting.test.ts", "greeting.envtest.test.ts", "main.ts", "unguarded.ts", "writes-on-import.ts"]
    const check = bin("tsc", ["-p", writeTsconfig(files)])
    assert.strictEqual(check.status, 0, show(check))
  })

  it("runs the README's tests with vitest's default settings: in-memory server and Envtest", () => {
    const r = bin("vitest", ["run"])
    assert.strictEqual(r.status, 0, show(r))
    assert.match(plain(r.stdout), /Tests\s+2 passed \(2\)/)
  })

  it("runs a program with node (Envtest is covered by the vitest run above)", () => {
    const r = node(["main.ts", "in-memory"])
    assert.strictEqual(r.status, 0, show(r))
    assert.include(r.stdout, "the operator wrote: Hello, Grace!")
  })

  it("a user who runs with --conditions=source (their own monorepo's condition) still gets the compiled package", () => {
    const r = node(["--conditions=source", "main.ts", "in-memory"])
    assert.strictEqual(r.status, 0, show(r))
    assert.notInclude(r.stderr, "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING")
  })

  it("operatorkit crd prints a module's CRDs without running its main", () => {
    const guarded = bin("operatorkit", ["crd", "main.ts"])
    assert.strictEqual(guarded.status, 0, show(guarded))
    assert.include(guarded.stdout, "name: greetings.tutorial.example.com")
    assert.notInclude(guarded.stdout, "the operator wrote")

    // a program started on import is kept from acting: no file written, no process, no connection
    const unguarded = bin("operatorkit", ["crd", "unguarded.ts"])
    assert.strictEqual(unguarded.status, 0, show(unguarded))
    assert.include(unguarded.stdout, "name: greetings.tutorial.example.com")
    assert.isFalse(Fs.existsSync(Path.join(project, "unguarded-main-ran.txt")), "the module's program wrote a file")
    assert.include(unguarded.stderr, "import.meta.main")

    const writes = bin("operatorkit", ["crd", "writes-on-import.ts"])
    assert.strictEqual(writes.status, 1, show(writes))
    assert.isFalse(Fs.existsSync(Path.join(project, "written-on-import.txt")), "the module wrote a file while imported")
    assert.include(writes.stderr, "written-on-import.txt")
    assert.include(writes.stderr, "import.meta.main")
  })

  it("operatorkit init writes a project that installs, compiles and passes its own npm test (in-memory server and Envtest)", () => {
    const cli = Path.join(project, "node_modules", ".bin", "operatorkit")
    const init = run(process.execPath, [cli, "init", "widget-operator"], tmp)
    assert.strictEqual(init.status, 0, show(init))
    const scaffolded = Path.join(tmp, "widget-operator")
    const api = run(process.execPath, [cli, "create", "api", "--group", "example.com", "--version", "v1", "--kind", "DatabaseCluster"], scaffolded)
    assert.strictEqual(api.status, 0, show(api))
    // the packed library in place of the registry's operatorkit; the rest at the ranges init wrote
    const install = run("npm", [...npmInstall, tarball], scaffolded)
    assert.strictEqual(install.status, 0, show(install))
    const test = run("npm", ["test"], scaffolded) // KUBEBUILDER_ASSETS is passed on to its Envtest tests
    assert.strictEqual(test.status, 0, show(test))
    assert.match(plain(test.stdout), /Tests\s+4 passed \(4\)/)
    const manifests = run("npm", ["run", "manifests"], scaffolded)
    assert.strictEqual(manifests.status, 0, show(manifests))
    const yaml = Fs.readFileSync(Path.join(scaffolded, "deploy", "manifests.yaml"), "utf8")
    assert.include(yaml, "name: widgets.example.com")
    assert.include(yaml, "name: databaseclusters.example.com")
  }, 600_000)

  it("with the OpenTelemetry peers installed, operatorkit/Tracing compiles and exports spans", () => {
    assert.isAbove(tracingPeers().length, 0, "the tracing packages are optional peers")
    const check = run(process.execPath, [Path.join(traced, "node_modules", ".bin", "tsc"), "-p", "tsconfig.json"], traced)
    assert.strictEqual(check.status, 0, show(check))
    const r = run(process.execPath, ["tracing.ts"], traced)
    assert.strictEqual(r.status, 0, show(r))
    assert.include(r.stdout, "consumer.program")
    assert.include(r.stdout, "Client.list")
  })
})

/** A tsconfig extending the project's (the one the README states) for these files only. */
const writeTsconfig = (files: ReadonlyArray<string>) => {
  const file = Path.join(project, `tsconfig.${files.length}.${Date.now()}.json`)
  Fs.writeFileSync(file, JSON.stringify({ extends: "./tsconfig.json", files }))
  return file
}
