// `operatorkit init` and `operatorkit create api` run as a user runs them, writing into a temp folder.
// That the written project compiles and its tests pass is shown by test/package/package.test.ts.
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Scaffold from "../../src/bin/scaffold.ts"

const root = Path.resolve(import.meta.dirname, "..", "..")
const bin = Path.join(root, "src", "bin", "operatorkit.ts")

const cli = (cwd: string, args: ReadonlyArray<string>) => {
  const out = ChildProcess.spawnSync(process.execPath, ["--conditions=@operatorkit/source", bin, ...args], { encoding: "utf8", cwd })
  return { status: out.status, stdout: out.stdout, stderr: out.stderr }
}

const inTemp = <A>(f: (dir: string) => A): A => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-scaffold-"))
  try {
    return f(dir)
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

const files = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) =>
    Path.relative(dir, Path.join(e.parentPath, e.name))
  ).sort()

describe("operatorkit init", () => {
  it("writes a project: package.json on operatorkit, tsconfig, the kind, its controller, both tests, Dockerfile, manifests script", () =>
    inTemp((dir) => {
      const r = cli(dir, ["init", "widget-operator"])
      assert.strictEqual(r.status, 0, r.stderr)
      const project = Path.join(dir, "widget-operator")
      assert.deepStrictEqual(files(project), [
        ".dockerignore",
        ".gitignore",
        "Dockerfile",
        "README.md",
        "deploy/.gitkeep",
        "package.json",
        "src/api/widget.ts",
        "src/controllers/widget.ts",
        "src/main.ts",
        "src/operator.ts",
        "test/widget.envtest.test.ts",
        "test/widget.test.ts",
        "tsconfig.build.json",
        "tsconfig.json"
      ])
      const pkg = JSON.parse(Fs.readFileSync(Path.join(project, "package.json"), "utf8"))
      const self = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))
      assert.strictEqual(pkg.name, "widget-operator")
      assert.strictEqual(pkg.dependencies.operatorkit, `^${self.version}`)
      assert.strictEqual(pkg.dependencies.effect, self.peerDependencies.effect)
      assert.strictEqual(pkg.devDependencies.vitest, self.devDependencies.vitest)
      assert.include(pkg.scripts.manifests, "operatorkit manifests src/operator.ts")
      assert.strictEqual(Fs.readFileSync(Path.join(project, "Dockerfile"), "utf8").includes("npm ci --omit=dev"), true)
      const tsconfig = JSON.parse(Fs.readFileSync(Path.join(project, "tsconfig.json"), "utf8"))
      assert.strictEqual(tsconfig.compilerOptions.strict, true)
      assert.strictEqual(tsconfig.compilerOptions.exactOptionalPropertyTypes, true)
      const api = Fs.readFileSync(Path.join(project, "src/api/widget.ts"), "utf8")
      assert.include(api, `group: "example.com"`)
      assert.include(api, `version: "v1alpha1"`)
      assert.include(api, `kind: "Widget"`)
      assert.include(Fs.readFileSync(Path.join(project, "test/widget.test.ts"), "utf8"), "withServer")
      assert.include(Fs.readFileSync(Path.join(project, "test/widget.envtest.test.ts"), "utf8"), "Envtest.layerClient")
    }))

  it("takes --group, --version and --kind", () =>
    inTemp((dir) => {
      const r = cli(dir, ["init", "shop", "--group=shop.acme.io", "--version", "v1", "--kind", "Order"])
      assert.strictEqual(r.status, 0, r.stderr)
      const api = Fs.readFileSync(Path.join(dir, "shop", "src/api/order.ts"), "utf8")
      assert.include(api, `group: "shop.acme.io"`)
      assert.include(api, `version: "v1"`)
      assert.include(api, `kind: "Order"`)
    }))

  it("refuses bad names and a folder in use, writing nothing", () =>
    inTemp((dir) => {
      const r = cli(dir, ["init", "Widget_Operator"])
      assert.strictEqual(r.status, 1)
      assert.include(r.stderr, `"Widget_Operator" is not a valid operator name`)
      const project = (api: Partial<Scaffold.Api>) => ({
        name: "w",
        api: { group: "example.com", version: "v1", kind: "Widget", ...api },
        operatorkit: "^0.1.0",
        versions: {}
      })
      for (
        const [api, message] of [
          [{ group: "example" }, `--group "example": a domain of yours`],
          [{ version: "1" }, `--version "1": a Kubernetes version name`],
          [{ kind: "widget" }, `--kind "widget": UpperCamelCase`]
        ] as const
      ) {
        assert.throws(() => Scaffold.init(dir, project(api)), Scaffold.ScaffoldError, message)
      }
      assert.deepStrictEqual(Fs.readdirSync(dir), [])
      Fs.mkdirSync(Path.join(dir, "w"))
      Fs.writeFileSync(Path.join(dir, "w", "keep.txt"), "mine")
      assert.throws(() => Scaffold.init(dir, project({})), Scaffold.ScaffoldError, "exists and is not empty")
      assert.deepStrictEqual(Fs.readdirSync(Path.join(dir, "w")), ["keep.txt"])
    }))

  it("the errors are typed: ScaffoldError with the message", () =>
    inTemp((dir) => {
      const project = { name: "-bad", api: { group: "example.com", version: "v1", kind: "Widget" }, operatorkit: "^0.1.0", versions: {} }
      assert.throws(() => Scaffold.init(dir, project), Scaffold.ScaffoldError, "is not a valid operator name")
      assert.throws(() => Scaffold.createApi(dir, project.api), Scaffold.ScaffoldError, "run operatorkit create api in a project made by operatorkit init")
    }))
})

describe("operatorkit create api", () => {
  it("adds a kind, its controller and tests, registered in src/operator.ts", () =>
    inTemp((dir) => {
      assert.strictEqual(cli(dir, ["init", "widget-operator"]).status, 0)
      const project = Path.join(dir, "widget-operator")
      const r = cli(project, ["create", "api", "--group", "example.com", "--version", "v1", "--kind", "DatabaseCluster"])
      assert.strictEqual(r.status, 0, r.stderr)
      for (const file of ["src/api/database-cluster.ts", "src/controllers/database-cluster.ts", "test/database-cluster.test.ts", "test/database-cluster.envtest.test.ts"]) {
        assert.isTrue(Fs.existsSync(Path.join(project, file)), file)
      }
      const operator = Fs.readFileSync(Path.join(project, "src/operator.ts"), "utf8")
      assert.include(operator, `import * as DatabaseClusterController from "./controllers/database-cluster.ts"`)
      assert.include(operator, "  DatabaseClusterController.layer,")
      assert.include(operator, "  DatabaseClusterApi.DatabaseClusterCrd,")
      assert.include(operator, "    DatabaseClusterController.permissions,")
      assert.include(operator, "  WidgetController.layer,")
      assert.include(Fs.readFileSync(Path.join(project, "src/controllers/database-cluster.ts"), "utf8"), `name: "widget-operator-database-cluster"`)

      // again: refused, src/operator.ts unchanged
      assert.throws(
        () => Scaffold.createApi(project, { group: "example.com", version: "v1", kind: "DatabaseCluster" }),
        Scaffold.ScaffoldError,
        "DatabaseCluster exists already"
      )
      assert.strictEqual(Fs.readFileSync(Path.join(project, "src/operator.ts"), "utf8"), operator)

      const missing = cli(project, ["create", "api", "--group", "example.com"])
      assert.strictEqual(missing.status, 2)
      assert.include(missing.stderr, "needs --version, --kind")
    }))

  it("outside a project: says where to run it", () =>
    inTemp((dir) => {
      const r = cli(dir, ["create", "api", "--group", "example.com", "--version", "v1", "--kind", "Widget"])
      assert.strictEqual(r.status, 1)
      assert.include(r.stderr, "src/operator.ts not found")
      assert.deepStrictEqual(Fs.readdirSync(dir), [])
    }))
})

describe("names", () => {
  it("the first kind comes from the project's name", () => {
    assert.strictEqual(Scaffold.kindFromName("widget-operator"), "Widget")
    assert.strictEqual(Scaffold.kindFromName("database-clusters"), "DatabaseCluster")
    assert.strictEqual(Scaffold.kindFromName("policies-controller"), "Policy")
    assert.strictEqual(Scaffold.kindFromName("3d-operator"), "K3d")
    assert.strictEqual(Scaffold.fileOf("DatabaseCluster"), "database-cluster")
  })
})
