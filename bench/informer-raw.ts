/**
 * Plain node:https access to the Envtest API server for the floor and the updater: the Envtest
 * kubeconfig is simple, so server, CA and token are read with regular expressions.
 */
import * as Fs from "node:fs"
import * as Https from "node:https"

export interface Raw {
  readonly agent: Https.Agent
  readonly host: string
  readonly port: string
  readonly headers: Readonly<Record<string, string>>
}

export const rawFromKubeconfig = (kubeconfigPath: string, agentOptions: Https.AgentOptions = {}): Raw => {
  const text = Fs.readFileSync(kubeconfigPath, "utf8")
  const url = new URL(/server: (\S+)/.exec(text)![1]!)
  const token = /token: (\S+)/.exec(text)![1]!
  const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(text)![1]!, "base64")
  return {
    agent: new Https.Agent({ keepAlive: true, ca, ...agentOptions }),
    host: url.hostname,
    port: url.port,
    headers: { authorization: `Bearer ${token}`, accept: "application/json" }
  }
}

/** One request; resolves with the status and the body as a string. */
export const call = (raw: Raw, method: string, path: string, body?: string, contentType = "application/json") =>
  new Promise<{ readonly status: number; readonly body: string }>((resolve, reject) => {
    const req = Https.request(
      {
        agent: raw.agent,
        host: raw.host,
        port: raw.port,
        method,
        path,
        headers: {
          ...raw.headers,
          ...(body !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(body) } : {})
        }
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.once("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        res.once("error", reject)
      }
    )
    req.once("error", reject)
    req.end(body)
  })
