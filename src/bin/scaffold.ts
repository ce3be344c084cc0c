/**
 * The files of `operatorkit init` and `operatorkit create api`: a new operator project (package.json
 * depending on operatorkit, the tsconfig a consumer needs, a kind's Schema, a controller with one
 * Resource, a test on the in-memory server and one on Envtest, a Dockerfile, a manifests script),
 * and one more kind with its controller and tests in an existing project (registered in
 * `src/operator.ts` at its `operatorkit:scaffold:` markers).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Schema } from "effect"
import * as Manifests from "../Manifests.ts"

/** Why `init` or `create api` wrote nothing: a bad name, a folder in the way, a project it cannot extend. */
export class ScaffoldError extends Schema.TaggedError<ScaffoldError>()("ScaffoldError", {
  message: Schema.String
}) {}

/** What names an API: its group, version and kind. */
export interface Api {
  readonly group: string
  readonly version: string
  readonly kind: string
}

export interface Project {
  /** The project's (and operator's) name: a DNS label, e.g. `widget-operator`. */
  readonly name: string
  readonly api: Api
  /** The operatorkit version range the project depends on. */
  readonly operatorkit: string
  /** Versions of the other packages (`effect`, `vitest`, …) the project pins. */
  readonly versions: Readonly<Record<string, string>>
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** Why a name cannot be used, or undefined. */
export const checkName = (name: string): string | undefined =>
  name.length > 53 || !dnsLabel.test(name)
    ? `${JSON.stringify(name)} is not a valid operator name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 53 characters (it names the Deployment, ServiceAccount and roles)`
    : undefined

/** Why an API cannot be used, or undefined. */
export const checkApi = (api: Api): string | undefined => {
  if (!dnsSubdomain.test(api.group) || !api.group.includes(".")) {
    return `--group ${JSON.stringify(api.group)}: a domain of yours, e.g. example.com or tenancy.acme.io (Kubernetes' own groups and a group without a dot are not for custom resources)`
  }
  if (!/^v\d+((alpha|beta)\d+)?$/.test(api.version)) return `--version ${JSON.stringify(api.version)}: a Kubernetes version name, e.g. v1, v1alpha1, v2beta1`
  if (!/^[A-Z][A-Za-z0-9]*$/.test(api.kind)) return `--kind ${JSON.stringify(api.kind)}: UpperCamelCase, e.g. Widget or DatabaseCluster`
  return undefined
}

/** `tenant-operator` → `Tenant`, `widgets` → `Widget`: a kind for a project's first API. */
export const kindFromName = (name: string): string => {
  const base = name.replace(/-(operator|controller)$/, "")
  const pascal = base.split("-").filter((p) => p !== "").map((p) => p[0]!.toUpperCase() + p.slice(1)).join("")
  const singular = pascal.endsWith("ies") ? `${pascal.slice(0, -3)}y` : pascal.endsWith("s") && !pascal.endsWith("ss") ? pascal.slice(0, -1) : pascal
  return /^[A-Z]/.test(singular) ? singular : `K${singular}`
}

/** The file name of a kind: `DatabaseCluster` → `database-cluster`. */
export const fileOf = (kind: string) => kind.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()

const lowerFirst = (s: string) => s[0]!.toLowerCase() + s.slice(1)

// ---------------------------------------------------------------------------------------------
// One API: its Schema, its controller, its tests

const apiFile = (api: Api) => `/**
 * The ${api.kind} custom resource: one Schema types the objects, decodes them, and becomes the CRD
 * (\`npx operatorkit crd src/api/${fileOf(api.kind)}.ts\`).
 */
import { Schema } from "effect"
import { CrdDefinition, Kind } from "operatorkit"

export const ${api.kind}Spec = Schema.Struct({
  /** What the ${api.kind} asks for: here, a message written to a ConfigMap it owns. */
  message: Schema.String.check(Schema.isMinLength(1)).annotate({ description: "Written to the ConfigMap <name>-${fileOf(api.kind)}" })
})

export const ${api.kind}Status = Schema.Struct({
  observedGeneration: Schema.optionalKey(Schema.Int),
  conditions: Schema.optionalKey(Schema.Array(Kind.ConditionSchema).pipe(CrdDefinition.listMap(["type"])))
})

export const ${api.kind} = Kind.custom({
  group: "${api.group}",
  version: "${api.version}",
  kind: "${api.kind}",
  namespaced: true,
  spec: ${api.kind}Spec,
  status: ${api.kind}Status,
  subresources: { status: true }
})
export type ${api.kind} = Kind.Type<typeof ${api.kind}>

export const ${api.kind}Crd = CrdDefinition.makeUnsafe(${api.kind}, {
  printerColumns: [
    { name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\\"Ready\\")].status" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
  ]
})
`

const controllerFile = (project: { readonly name: string }, api: Api) => {
  const file = fileOf(api.kind)
  const obj = lowerFirst(api.kind)
  return `/**
 * The ${api.kind} controller: for every ${api.kind}, one Resource keeps a ConfigMap with its message
 * and sets Ready. The controller adds its finalizer, retries failures with backoff, and watches the
 * ConfigMaps it owns (one changed or deleted: it is set back).
 */
import { Effect } from "effect"
import { Controller, Framework, Kind, Owned, Status, Watch } from "operatorkit"
import { ${api.kind} } from "../api/${file}.ts"

const configMap = Owned.configMap(${api.kind}, "configmap", (${obj}) => ({
  metadata: { name: \`\${${obj}.metadata.name}-${file}\`, namespace: ${obj}.metadata.namespace! },
  data: { message: ${obj}.spec.message }
}))

/** The controller's one Resource: the ConfigMap, then the Ready condition. */
export const ${obj}Resource = Framework.make<${api.kind}>()({
  name: "${file}",
  ensureCreated: (${obj}) =>
    Effect.gen(function*() {
      yield* configMap.ensureCreated(${obj})
      yield* Status.setConditions(${api.kind}, ${obj}, [{ type: "Ready", status: "True", reason: "Reconciled" }])
    }),
  // the ConfigMap goes with its owner (garbage collection), or here if the finalizer runs first
  ensureDeleted: (${obj}) => configMap.ensureDeleted(${obj}),
  // the API calls it makes (the controller declares its own): see Rbac, and RbacGuard in the tests
  permissions: [...configMap.permissions, ...Status.permissions(${api.kind})]
})

const options = {
  name: "${project.name}-${file}",
  kind: ${api.kind},
  resources: [${obj}Resource],
  watches: [Watch.owns(Kind.ConfigMap)]
}

/** The controller, running while the Layer is alive. */
export const layer = Controller.layer(options)

/** What it needs from RBAC, derived from the same options. */
export const permissions = Controller.permissions(options)
`
}

const memoryTest = (api: Api) => {
  const file = fileOf(api.kind)
  const obj = lowerFirst(api.kind)
  return `// The ${api.kind} controller on the in-memory API server, in virtual time, with every API call
// checked against the operator's declared RBAC.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client, Crd, Kind } from "operatorkit"
import { eventually, RbacGuard, withServer } from "operatorkit/testing"
import { ${api.kind}, ${api.kind}Crd } from "../src/api/${file}.ts"
import * as ${api.kind}Controller from "../src/controllers/${file}.ts"
import { deployment } from "../src/operator.ts"

describe("${api.kind} controller", () => {
  it.effect("writes the message into a ConfigMap it owns and sets Ready, within its declared RBAC", () =>
    Effect.gen(function*() {
      const admin = yield* Client.Client
      yield* (yield* Crd.Crd).ensureCreated(${api.kind}Crd)
      // the controller runs with a Client that refuses what the operator did not declare
      const guard = yield* RbacGuard.make(deployment.rbac)
      yield* Layer.build(${api.kind}Controller.layer).pipe(Effect.provideService(Client.Client, guard.client))
      const ${obj} = yield* admin.create(${api.kind}, {
        metadata: { name: "hello", namespace: "default" },
        spec: { message: "Hello!" }
      })

      yield* eventually(Effect.gen(function*() {
        const cm = yield* admin.get(Kind.ConfigMap, { namespace: "default", name: "hello-${file}" })
        assert.deepStrictEqual(cm.data, { message: "Hello!" })
        assert.strictEqual(cm.metadata.ownerReferences?.[0]?.uid, ${obj}.metadata.uid)
        const done = yield* admin.get(${api.kind}, { namespace: "default", name: "hello" })
        assert.strictEqual(done.status?.conditions?.find((c) => c.type === "Ready")?.status, "True")
      }))
      assert.deepStrictEqual(yield* guard.missingRules, [])
    }).pipe(
      Effect.provide(Crd.layer, { local: true }),
      withServer // a fresh in-memory API server for this test
    ))
})
`
}

const envtestTest = (api: Api) => {
  const file = fileOf(api.kind)
  return `// The ${api.kind} controller on a real API server (etcd and kube-apiserver started by Envtest for
// this file), in real time.
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client, Crd, Kind } from "operatorkit"
import { Envtest, eventually } from "operatorkit/testing"
import { ${api.kind}, ${api.kind}Crd } from "../src/api/${file}.ts"
import * as ${api.kind}Controller from "../src/controllers/${file}.ts"

const Cluster = Crd.layer.pipe(Layer.provideMerge(Envtest.layerClient()), Layer.orDie)

// a real server needs the real clock; a control plane takes a few seconds to start
layer(Cluster, { excludeTestServices: true, timeout: "2 minutes" })("${api.kind} controller on a real API server", (it) => {
  it.effect("writes the message into a ConfigMap it owns and sets Ready", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* (yield* Crd.Crd).ensureCreated(${api.kind}Crd)
      yield* Layer.build(${api.kind}Controller.layer)
      yield* client.create(${api.kind}, { metadata: { name: "hello", namespace: "default" }, spec: { message: "Hello!" } })

      yield* eventually(Effect.gen(function*() {
        const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "hello-${file}" })
        assert.deepStrictEqual(cm.data, { message: "Hello!" })
        const done = yield* client.get(${api.kind}, { namespace: "default", name: "hello" })
        assert.strictEqual(done.status?.conditions?.find((c) => c.type === "Ready")?.status, "True")
      }))
    }), { timeout: 60_000 })
})
`
}

/** The files of one API (its Schema, controller, and tests), by path in the project. */
export const apiFiles = (project: { readonly name: string }, api: Api): ReadonlyArray<readonly [string, string]> => [
  [`src/api/${fileOf(api.kind)}.ts`, apiFile(api)],
  [`src/controllers/${fileOf(api.kind)}.ts`, controllerFile(project, api)],
  [`test/${fileOf(api.kind)}.test.ts`, memoryTest(api)],
  [`test/${fileOf(api.kind)}.envtest.test.ts`, envtestTest(api)]
]

// ---------------------------------------------------------------------------------------------
// The operator: registering APIs at the scaffold markers

const marker = (what: string) => `// operatorkit:scaffold:${what}`

/** The lines `create api` adds to src/operator.ts, before each marker. */
const registration = (api: Api): ReadonlyArray<readonly [string, string]> => [
  ["imports", `import * as ${api.kind}Api from "./api/${fileOf(api.kind)}.ts"\nimport * as ${api.kind}Controller from "./controllers/${fileOf(api.kind)}.ts"`],
  ["layers", `  ${api.kind}Controller.layer,`],
  ["crds", `  ${api.kind}Api.${api.kind}Crd,`],
  ["permissions", `    ${api.kind}Controller.permissions,`]
]

/** src/operator.ts with an API registered; an error when a marker is missing or it is there already. */
export const register = (operator: string, api: Api): string => {
  if (operator.includes(`./api/${fileOf(api.kind)}.ts"`)) throw new ScaffoldError({ message: `${api.kind} is registered in src/operator.ts already` })
  let out = operator
  for (const [what, lines] of registration(api)) {
    const at = out.indexOf(marker(what))
    if (at < 0) throw new ScaffoldError({ message: `src/operator.ts has no "${marker(what)}" line: add the ${api.kind} controller to it by hand` })
    const lineStart = out.lastIndexOf("\n", at) + 1
    out = `${out.slice(0, lineStart)}${lines}\n${out.slice(lineStart)}`
  }
  return out
}

const operatorFile = (project: Project) =>
  register(
    `/**
 * The operator: its controllers, and how it is deployed. \`npm run manifests\` prints its manifests
 * (CRDs, least-privilege RBAC derived from what each part declares, Deployment, metrics Service).
 * \`operatorkit create api\` registers new kinds at the operatorkit:scaffold markers.
 */
import { Layer } from "effect"
import { LeaderElection, Manifests } from "operatorkit"
${marker("imports")}

/** The operator's name: its Deployment, ServiceAccount, roles, Lease and Events' source. */
export const name = "${project.name}"

/** Every controller, running while the Layer is alive. */
export const controllers = Layer.mergeAll(
${marker("layers")}
)

/** The CRDs of the kinds it serves. */
export const crds = [
${marker("crds")}
]

/** How it runs on a cluster. */
export const deployment = Manifests.make({
  name,
  namespace: name,
  image: \`\${name}:latest\`,
  crds,
  permissions: [
${marker("permissions")}
    LeaderElection.permissions({ name })
  ]
})
`,
    project.api
  )

const mainFile = () => `/**
 * The operator's program: \`node dist/main.js\` in its image, \`npm start\` on your machine (the cluster
 * of KUBECONFIG, or the one it runs in). Flags (the generated Deployment passes them):
 * --health-port, --metrics-port, --metrics-secure / --metrics-insecure, --leader-elect, and the
 * Client's rate limit --kube-api-qps / --kube-api-burst (Manifests.make's apiRateLimit).
 */
import * as Os from "node:os"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { Client, Crd, Events, Health, Informer, KubeConfig, LeaderElection, Manifests, Metrics } from "operatorkit"
import * as Operator from "./operator.ts"

const operator = (flags: Manifests.Flags) =>
  Effect.gen(function*() {
    const identity = process.env["POD_NAME"] ?? \`\${Os.hostname()}-\${process.pid}\`
    // installs or updates the CRDs (the Deployment's RBAC allows it); remove if you install them yourself
    const crds = yield* Crd.Crd
    for (const crd of Operator.crds) yield* crds.ensureCreated(crd)
    const events = yield* Events.make({ component: Operator.name, host: identity })
    const elector = flags.leaderElection
      ? yield* LeaderElection.make({ name: Operator.name, namespace: process.env["POD_NAMESPACE"] ?? "default", identity })
      : undefined
    yield* Layer.build(Operator.controllers).pipe(
      Effect.provideService(Events.Recorder, events),
      elector === undefined ? (e) => e : Effect.provideService(LeaderElection.Leadership, elector)
    )
    const server = yield* Health.make({ port: flags.healthPort, secureMetrics: flags.secureMetrics ? { port: flags.metricsPort } : undefined })
    yield* Effect.logInfo(\`\${Operator.name} running as \${identity}: probes on \${server.url}, metrics on \${server.metricsUrl ?? server.url}\`)
    return yield* Effect.never
  })

const program = (argv: ReadonlyArray<string>) =>
  Effect.flatMap(Manifests.parseFlags(argv), (flags) => {
    const { qps, burst } = flags
    const client = Client.layer({ ...(qps !== undefined ? { qps } : {}), ...(burst !== undefined ? { burst } : {}) })
    return operator(flags).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(Crd.layer, Informer.layer, Metrics.layer()).pipe(Layer.provideMerge(client), Layer.provide(KubeConfig.layer())))
    )
  })

/** Runs the program until SIGINT or SIGTERM, then stops it gracefully (reconciles finish, the Lease is released). */
const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  const stop = () => fiber.interruptUnsafe(fiber.id)
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", stop)
    process.removeListener("SIGTERM", stop)
    // a stop that was asked for is a success
    teardown(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? Exit.void : Exit.asVoid(exit), (code) => {
      process.exitCode = code
    })
  })
})

if (import.meta.main) runMain(program(process.argv.slice(2)))
`

const tsconfig = () => JSON.stringify({
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUnusedLocals: true,
    skipLibCheck: false,
    // Node runs the TypeScript sources as they are (type stripping); tsc builds dist/ for the image
    noEmit: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true
  },
  include: ["src", "test"]
}, null, 2) + "\n"

const tsconfigBuild = () => JSON.stringify({
  extends: "./tsconfig.json",
  compilerOptions: { noEmit: false, rootDir: "src", outDir: "dist", sourceMap: true },
  include: ["src"]
}, null, 2) + "\n"

const packageJson = (project: Project) => JSON.stringify({
  name: project.name,
  version: "0.1.0",
  private: true,
  type: "module",
  engines: { node: ">=22.19.0" },
  scripts: {
    build: "tsc -p tsconfig.build.json",
    typecheck: "tsc --noEmit",
    test: "tsc --noEmit && vitest run",
    start: "node src/main.ts --metrics-insecure",
    manifests: "operatorkit manifests src/operator.ts > deploy/manifests.yaml"
  },
  dependencies: {
    effect: project.versions["effect"] ?? "^4.1.0",
    operatorkit: project.operatorkit
  },
  devDependencies: Object.fromEntries(
    ["@effect/vitest", "@types/node", "typescript", "vitest"].map((p) => [p, project.versions[p] ?? "latest"])
  )
}, null, 2) + "\n"

const readme = (project: Project) => `# ${project.name}

A Kubernetes operator written with [operatorkit](https://github.com/operatorkit/operatorkit).

- \`src/api/\`: the custom resources, one Schema each (it types, decodes, and becomes the CRD).
- \`src/controllers/\`: a controller per kind, with the Resources it keeps for each object.
- \`src/operator.ts\`: the controllers together, and how the operator is deployed.
- \`src/main.ts\`: the program (probes, secure metrics, leader election).
- \`test/\`: each controller on the in-memory API server (with its RBAC checked) and on Envtest.

\`\`\`sh
npm test                    # type check, then the tests (Envtest provisions a control plane on first use)
npm start                   # the operator, on the cluster of KUBECONFIG
npm run manifests           # deploy/manifests.yaml: CRDs, RBAC, ServiceAccount, Deployment, metrics Service
docker build -t ${project.name}:latest .
kubectl apply -f deploy/manifests.yaml
npx operatorkit create api --group ${project.api.group} --version ${project.api.version} --kind Other
\`\`\`
`

/** Every file of a new project, by path. */
export const projectFiles = (project: Project): ReadonlyArray<readonly [string, string]> => [
  ["package.json", packageJson(project)],
  ["tsconfig.json", tsconfig()],
  ["tsconfig.build.json", tsconfigBuild()],
  ["Dockerfile", Manifests.dockerfile()],
  [".dockerignore", Manifests.dockerignore],
  [".gitignore", "node_modules\ndist\n"],
  ["README.md", readme(project)],
  ["deploy/.gitkeep", ""],
  ["src/operator.ts", operatorFile(project)],
  ["src/main.ts", mainFile()],
  ...apiFiles(project, project.api)
]

const writeAll = (dir: string, files: ReadonlyArray<readonly [string, string]>): ReadonlyArray<string> => {
  for (const [path, text] of files) {
    Fs.mkdirSync(Path.dirname(Path.join(dir, path)), { recursive: true })
    Fs.writeFileSync(Path.join(dir, path), text)
  }
  return files.map(([path]) => path)
}

/**
 * `operatorkit init <name>`: writes a new project into `<parent>/<name>`; returns the files written.
 * Nothing is written when the name or API is bad or the folder exists and is not empty.
 */
export const init = (parent: string, project: Project): ReadonlyArray<string> => {
  const bad = checkName(project.name) ?? checkApi(project.api)
  if (bad !== undefined) throw new ScaffoldError({ message: bad })
  const dir = Path.join(parent, project.name)
  if (Fs.existsSync(dir) && Fs.readdirSync(dir).length > 0) {
    throw new ScaffoldError({ message: `${dir} exists and is not empty: choose another name, or remove it` })
  }
  return writeAll(dir, projectFiles(project))
}

/**
 * `operatorkit create api`: adds a kind, its controller and tests to the project in `dir`, and
 * registers them in its src/operator.ts; returns the files written.
 */
export const createApi = (dir: string, api: Api): ReadonlyArray<string> => {
  const bad = checkApi(api)
  if (bad !== undefined) throw new ScaffoldError({ message: bad })
  const operatorPath = Path.join(dir, "src", "operator.ts")
  if (!Fs.existsSync(operatorPath)) {
    throw new ScaffoldError({ message: `${operatorPath} not found: run operatorkit create api in a project made by operatorkit init` })
  }
  const files = apiFiles({ name: projectName(dir) }, api)
  const taken = files.map(([path]) => path).filter((path) => Fs.existsSync(Path.join(dir, path)))
  if (taken.length > 0) throw new ScaffoldError({ message: `${api.kind} exists already: ${taken.join(", ")}` })
  const operator = register(Fs.readFileSync(operatorPath, "utf8"), api)
  const written = writeAll(dir, files)
  Fs.writeFileSync(operatorPath, operator)
  return [...written, "src/operator.ts"]
}

const projectName = (dir: string): string => {
  const file = Path.join(dir, "package.json")
  const name = Fs.existsSync(file) ? (JSON.parse(Fs.readFileSync(file, "utf8")) as { name?: unknown }).name : undefined
  return typeof name === "string" && checkName(name) === undefined ? name : Path.basename(Path.resolve(dir))
}
