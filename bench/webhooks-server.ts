/**
 * The server side of `npm run bench -- webhooks`, one process per measurement:
 *   webhooks-server.ts floor <certDir>        a bare node:https server answering allowed: true from the parsed body
 *   webhooks-server.ts operatorkit <certDir>  Webhooks.serve with the bench's admission (full Schema decoding + a check)
 * prints `{"port": N}` once listening, then serves until its stdin closes.
 */
import * as Fs from "node:fs"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Path from "node:path"
import { Effect, Layer } from "effect"
import * as TestServer from "../src/testing/TestServer.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { definition } from "./webhooks-config.ts"

const [impl, certDir] = process.argv.slice(2) as [string, string]
const certFile = Path.join(certDir, "tls.crt")
const keyFile = Path.join(certDir, "tls.key")
const ready = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`)
const untilStdinCloses = new Promise<void>((resolve) => {
  process.stdin.on("end", resolve).on("close", resolve).resume()
})

if (impl === "floor") {
  const server = Https.createServer({ cert: Fs.readFileSync(certFile), key: Fs.readFileSync(keyFile) }, (req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request: { uid: string } }
      const text = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, allowed: true } })
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
      res.end(text)
    })
  })
  server.listen(0, "127.0.0.1", () => ready((server.address() as Net.AddressInfo).port))
  await untilStdinCloses
  server.close()
  server.closeAllConnections()
} else {
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const served = yield* Webhooks.serve(definition, {
      host: "127.0.0.1",
      port: 0,
      ensure: false,
      certificates: Webhooks.files({ certFile, keyFile, reloadInterval: "1 hour" })
    })
    ready(served.port)
    yield* Effect.promise(() => untilStdinCloses)
  })).pipe(Effect.provide(Layer.fresh(TestServer.layer()))))
}
