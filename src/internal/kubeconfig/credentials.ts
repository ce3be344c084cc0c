/**
 * A kubeconfig user's credentials, loaded from their source by us (client-node's caches kept a file
 * token for 60 s and an exec token until its expiry, whatever the API server said):
 *
 * - `token`, `username`/`password`, `client-certificate-data`/`client-key-data`: static.
 * - `tokenFile` (it wins over `token` when readable, as in client-go), `client-certificate` and
 *   `client-key` files: re-read at most once a minute (client-go's period for token files), and at
 *   once after a 401. A file that cannot be read keeps the last good value, with a warning.
 * - `exec`: the credential plugin runs on first use; its answer is kept until its
 *   `expirationTimestamp`, or until a 401.
 * - `auth-provider`: delegated to client-node (oidc, azure, gcp as it implements them).
 * - `as`, `as-uid`, `as-groups`, `as-user-extra`: impersonation headers, as kubectl sends them.
 *
 * After a 401, `refresh` reloads from the source once for every request that saw the same stale
 * credentials (client-go's ResetTokenOlderThan), so a burst of 401s re-reads or re-runs once.
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type { Auth, Credentials, KubeConfigError } from "../../KubeConfig.ts"

/** What an exec plugin may be told about the cluster (`provideClusterInfo`). */
export interface ClusterInfo {
  readonly server: string
  readonly tlsServerName: string | undefined
  readonly insecureSkipTlsVerify: boolean
  readonly caData: Buffer | undefined
  readonly proxyUrl: string | undefined
  readonly execExtension: unknown
}

export interface UserSpec {
  readonly name: string
  /** Where the kubeconfig came from, for messages. */
  readonly source: string
  /** The user's fields, validated (kubeconfigMerge.userFields). */
  readonly user: Readonly<Record<string, unknown>>
  readonly cluster: ClusterInfo
  /** Headers from client-node, for an `auth-provider`. */
  readonly authProvider?: (() => Promise<Readonly<Record<string, string>>>) | undefined
  /** The error of a user that cannot be used (KubeConfig's own, which this module does not import). */
  readonly fail: (detail: string) => KubeConfigError
}

/** client-go's period for re-reading token files. */
export const FILE_PERIOD_MS = 60_000
/** An exec plugin that has not answered by then has failed. */
const EXEC_TIMEOUT_MS = 60_000

interface Material {
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
  /** When to load again unasked (ms since the epoch), undefined for never. */
  readonly refreshAt: number | undefined
}

const sameBuffer = (a: Buffer | undefined, b: Buffer | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.equals(b))

const sameMaterial = (a: Material, b: Material) => {
  if (JSON.stringify(a.headers) !== JSON.stringify(b.headers)) return false
  return sameBuffer(a.cert, b.cert) && sameBuffer(a.key, b.key)
}

const str = (u: unknown) => (typeof u === "string" && u !== "" ? u : undefined)

/** client-go's headerKeyEscape: bytes that are not legal in a header name (and `%`) percent-encoded. */
const headerKeyEscape = (key: string) => {
  let out = ""
  for (const b of Buffer.from(key, "utf8")) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9!#$&'*+\-.^_`|~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return out
}

/** Headers of the impersonation fields, as client-go's impersonatingRoundTripper sets them. */
const impersonation = (user: Readonly<Record<string, unknown>>): Record<string, string | ReadonlyArray<string>> => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  const as = str(user["as"])
  if (as === undefined) return out
  out["impersonate-user"] = as
  const uid = str(user["as-uid"])
  if (uid !== undefined) out["impersonate-uid"] = uid
  // one header line per value, as Go's Header.Add sends them (a comma would be part of the value)
  const groups = user["as-groups"] as ReadonlyArray<string> | undefined
  if (groups !== undefined && groups.length > 0) out["impersonate-group"] = groups
  const extra = user["as-user-extra"] as Readonly<Record<string, ReadonlyArray<string>>> | undefined
  for (const [k, values] of Object.entries(extra ?? {})) {
    if (values.length > 0) out[`impersonate-extra-${headerKeyEscape(k)}`] = values
  }
  return out
}

export const make = (spec: UserSpec): Effect.Effect<Credentials, KubeConfigError> =>
  Effect.gen(function*() {
    const { user } = spec
    const fail = (detail: string) => spec.fail(`user "${spec.name}": ${detail}`)
    const impersonate = impersonation(user)
    const tokenFile = str(user["tokenFile"])
    const token = str(user["token"])
    const certFile = str(user["client-certificate"])
    const keyFile = str(user["client-key"])
    const certData = str(user["client-certificate-data"])
    const keyData = str(user["client-key-data"])
    const exec = user["exec"] as Readonly<Record<string, unknown>> | undefined
    const username = str(user["username"])
    const password = str(user["password"])
    const fileBased = tokenFile !== undefined || (certData === undefined && certFile !== undefined) ||
      (keyData === undefined && keyFile !== undefined)
    const reloadable = fileBased || exec !== undefined || spec.authProvider !== undefined

    const readFile = (what: string, file: string) =>
      Effect.try({ try: () => Fs.readFileSync(file), catch: (e) => fail(`cannot read ${what} ${file}: ${(e as Error).message}`) })

    /** Loads everything from the sources now; `previous` stands in for a file that cannot be read. */
    const load = (previous: Material | undefined) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const headers: Record<string, string | ReadonlyArray<string>> = {}
        let cert: Buffer | undefined = certData !== undefined ? Buffer.from(certData, "base64") : undefined
        let key: Buffer | undefined = keyData !== undefined ? Buffer.from(keyData, "base64") : undefined
        let refreshAt: number | undefined = fileBased ? now + FILE_PERIOD_MS : undefined
        const orPrevious = <A>(read: Effect.Effect<A, KubeConfigError>, fallback: A | undefined) =>
          Effect.catch(read, (error) =>
            fallback === undefined
              ? Effect.fail(error)
              : Effect.as(Effect.logWarning(`${error.message}; keeping the last one read`), fallback))
        if (certData === undefined && certFile !== undefined) {
          cert = yield* orPrevious(readFile("client-certificate", certFile), previous?.cert)
        }
        if (keyData === undefined && keyFile !== undefined) {
          key = yield* orPrevious(readFile("client-key", keyFile), previous?.key)
        }
        if (tokenFile !== undefined) {
          const read = Effect.flatMap(readFile("tokenFile", tokenFile), (bytes) => {
            const t = bytes.toString("utf8").trim()
            return t === "" ? Effect.fail(fail(`tokenFile ${tokenFile} is empty`)) : Effect.succeed(t)
          })
          // client-go: the file wins; the token field is the fallback while it cannot be read
          const before = previous?.headers["authorization"]
          const fromFile = yield* orPrevious(read, typeof before === "string" ? before.slice(7) : token)
          headers["authorization"] = `Bearer ${fromFile}`
        } else if (token !== undefined) {
          headers["authorization"] = `Bearer ${token}`
        } else if (username !== undefined || password !== undefined) {
          headers["authorization"] = `Basic ${Buffer.from(`${username ?? ""}:${password ?? ""}`).toString("base64")}`
        }
        if (exec !== undefined) {
          const credential = yield* runExec(spec, exec, fail)
          if (credential.token !== undefined) headers["authorization"] = `Bearer ${credential.token}`
          if (credential.cert !== undefined) {
            cert = credential.cert
            key = credential.key
          }
          if (credential.expiresAt !== undefined) refreshAt = Math.min(refreshAt ?? Infinity, credential.expiresAt)
        }
        if (spec.authProvider !== undefined) {
          const provider = spec.authProvider
          const fromProvider = yield* Effect.tryPromise({
            try: provider,
            catch: (e) => fail(`auth-provider: ${e instanceof Error ? e.message : String(e)}`)
          })
          Object.assign(headers, fromProvider)
          // client-node keeps its own cache and refreshes it at expiry: ask it each time
          refreshAt = now
        }
        Object.assign(headers, impersonate)
        return { headers, cert, key, refreshAt } satisfies Material
      })

    const first: Material = yield* load(undefined)
    let material = first
    let auth: Auth = { headers: first.headers, cert: first.cert, key: first.key, version: 0 }
    if (!reloadable) {
      const fixed = Effect.succeed(auth)
      return { current: fixed, refresh: () => fixed, reloadable }
    }

    const lock = Semaphore.makeUnsafe(1)
    const reload = Effect.gen(function*() {
      const next = yield* load(material)
      if (!sameMaterial(material, next)) auth = { headers: next.headers, cert: next.cert, key: next.key, version: auth.version + 1 }
      material = next
      return auth
    })
    const current = Effect.clockWith((clock) => {
      const at = material.refreshAt
      if (at === undefined || clock.currentTimeMillisUnsafe() < at) return Effect.succeed(auth)
      return lock.withPermit(Effect.suspend(() => {
        const again = material.refreshAt
        return again === undefined || clock.currentTimeMillisUnsafe() < again ? Effect.succeed(auth) : reload
      }))
    })
    const refresh = (stale: Auth) =>
      lock.withPermit(Effect.suspend(() => (auth.version !== stale.version ? Effect.succeed(auth) : reload)))
    return { current, refresh, reloadable }
  })

interface ExecCredential {
  readonly token: string | undefined
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
  readonly expiresAt: number | undefined
}

const EXEC_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

/** Runs an exec credential plugin as client-go does and reads its ExecCredential. */
const runExec = (
  spec: UserSpec,
  exec: Readonly<Record<string, unknown>>,
  fail: (detail: string) => KubeConfigError
): Effect.Effect<ExecCredential, KubeConfigError> =>
  Effect.suspend(() => {
    const command = str(exec["command"])
    const apiVersion = str(exec["apiVersion"])
    if (command === undefined) return Effect.fail(fail("exec.command is missing"))
    if (apiVersion === undefined || !EXEC_VERSIONS.includes(apiVersion)) {
      return Effect.fail(fail(`exec.apiVersion must be one of ${EXEC_VERSIONS.join(", ")} (got ${JSON.stringify(exec["apiVersion"] ?? null)})`))
    }
    const mode = str(exec["interactiveMode"]) ?? (apiVersion.endsWith("/v1") ? undefined : "IfAvailable")
    if (mode === undefined) return Effect.fail(fail("exec.interactiveMode is required with client.authentication.k8s.io/v1"))
    if (!["Never", "IfAvailable", "Always"].includes(mode)) return Effect.fail(fail(`exec.interactiveMode ${JSON.stringify(mode)} is not Never, IfAvailable or Always`))
    // an operator has no terminal to lend the plugin
    if (mode === "Always") return Effect.fail(fail("the exec plugin needs an interactive terminal (interactiveMode: Always), which this process does not have"))
    const cluster = spec.cluster
    const info = {
      apiVersion,
      kind: "ExecCredential",
      spec: {
        interactive: false,
        ...(exec["provideClusterInfo"] === true
          ? {
            cluster: {
              server: cluster.server,
              ...(cluster.tlsServerName !== undefined ? { "tls-server-name": cluster.tlsServerName } : {}),
              ...(cluster.insecureSkipTlsVerify ? { "insecure-skip-tls-verify": true } : {}),
              ...(cluster.caData !== undefined ? { "certificate-authority-data": cluster.caData.toString("base64") } : {}),
              ...(cluster.proxyUrl !== undefined ? { "proxy-url": cluster.proxyUrl } : {}),
              ...(cluster.execExtension !== undefined ? { config: cluster.execExtension } : {})
            }
          }
          : {})
      }
    }
    const env: Record<string, string | undefined> = { ...process.env }
    for (const e of (exec["env"] as ReadonlyArray<{ name: string; value?: string }> | undefined) ?? []) env[e.name] = e.value ?? ""
    env["KUBERNETES_EXEC_INFO"] = JSON.stringify(info)
    const args = (exec["args"] as ReadonlyArray<string> | undefined) ?? []
    const hint = str(exec["installHint"])
    return Effect.callback<string, KubeConfigError>((resume) => {
      let stdout = ""
      let stderr = ""
      let done = false
      const finish = (effect: Effect.Effect<string, KubeConfigError>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(effect)
      }
      const child = ChildProcess.spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] })
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        finish(Effect.fail(fail(`exec plugin ${command} did not answer within ${EXEC_TIMEOUT_MS / 1000} s`)))
      }, EXEC_TIMEOUT_MS)
      child.stdout.setEncoding("utf8")
      child.stderr.setEncoding("utf8")
      child.stdout.on("data", (d: string) => (stdout += d))
      child.stderr.on("data", (d: string) => (stderr = (stderr + d).slice(-2000)))
      child.once("error", (e: NodeJS.ErrnoException) =>
        finish(Effect.fail(fail(
          e.code === "ENOENT"
            ? `exec plugin ${command} not found${hint !== undefined ? `: ${hint}` : ""}`
            : `exec plugin ${command} could not run: ${e.message}`
        ))))
      child.once("close", (code, signal) => {
        if (code === 0) return finish(Effect.succeed(stdout))
        const why = signal !== null ? `was killed (${signal})` : `exited with code ${code}`
        finish(Effect.fail(fail(`exec plugin ${command} ${why}${stderr.trim() !== "" ? `: ${stderr.trim()}` : ""}`)))
      })
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
        child.kill("SIGKILL")
      })
    }).pipe(Effect.flatMap((out) => readExecCredential(out, apiVersion, command, fail)))
  })

const readExecCredential = (
  out: string,
  apiVersion: string,
  command: string,
  fail: (detail: string) => KubeConfigError
): Effect.Effect<ExecCredential, KubeConfigError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(out)
  } catch {
    return Effect.fail(fail(`exec plugin ${command} printed no ExecCredential JSON`))
  }
  const cred = parsed as { kind?: unknown; apiVersion?: unknown; status?: Record<string, unknown> } | null
  if (cred === null || typeof cred !== "object" || cred.kind !== "ExecCredential") {
    return Effect.fail(fail(`exec plugin ${command} printed no ExecCredential`))
  }
  if (cred.apiVersion !== apiVersion) {
    return Effect.fail(fail(`exec plugin ${command} answered ${JSON.stringify(cred.apiVersion)}, not the ${apiVersion} it was asked for`))
  }
  const status = cred.status
  if (status === undefined || status === null || typeof status !== "object") return Effect.fail(fail(`exec plugin ${command} answered no status`))
  const token = str(status["token"])
  const certPem = str(status["clientCertificateData"])
  const keyPem = str(status["clientKeyData"])
  if ((certPem === undefined) !== (keyPem === undefined)) {
    return Effect.fail(fail(`exec plugin ${command} answered a client certificate without its key, or a key without its certificate`))
  }
  if (token === undefined && certPem === undefined) return Effect.fail(fail(`exec plugin ${command} answered neither a token nor a client certificate`))
  const expiry = str(status["expirationTimestamp"])
  const expiresAt = expiry !== undefined ? Date.parse(expiry) : undefined
  if (expiresAt !== undefined && Number.isNaN(expiresAt)) {
    return Effect.fail(fail(`exec plugin ${command} answered an unreadable expirationTimestamp ${JSON.stringify(expiry)}`))
  }
  return Effect.succeed({
    token,
    cert: certPem !== undefined ? Buffer.from(certPem) : undefined,
    key: keyPem !== undefined ? Buffer.from(keyPem) : undefined,
    expiresAt
  })
}
