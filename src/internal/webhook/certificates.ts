/**
 * X.509 for the webhook server, made in-process: a CA, and serving certificates it signs.
 *
 * Certificates are built with PKI.js (`pkijs`, PeculiarVentures): a maintained, typed implementation
 * of the X.509 structures on top of WebCrypto, so every key and signature comes from Node's own
 * crypto (ECDSA P-256 keys: small, fast to make, and fast in TLS handshakes). Nothing shells out to
 * openssl. Node's `X509Certificate` reads certificates back (validity, fingerprints).
 * @internal
 */
import { X509Certificate, webcrypto } from "node:crypto"
import * as asn1js from "asn1js"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as pkijs from "pkijs"

type CryptoKey = webcrypto.CryptoKey
const subtle = webcrypto.subtle
const engine = new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as any })
const algorithm = { name: "ECDSA", namedCurve: "P-256" } as const

/** A certificate and its private key, PEM-encoded (PKCS#8 key). */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

export interface Info {
  readonly notBefore: number
  readonly notAfter: number
  readonly fingerprint: string
  readonly subject: string
  readonly issuer: string
}

const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`

const derOf = (text: string, label: string): ArrayBuffer => {
  const match = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(text)
  if (match === null) throw new Error(`no ${label} in the PEM text`)
  const bytes = Buffer.from(match[1]!.replace(/\s+/g, ""), "base64")
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

/** The certificates of a PEM bundle, each as its own PEM block. */
export const splitBundle = (bundle: string): Array<string> =>
  Array.from(bundle.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g), (m) => `${m[0]}\n`)

export const info = (certPem: string): Info => {
  const x = new X509Certificate(certPem)
  return {
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    fingerprint: x.fingerprint256,
    subject: x.subject,
    issuer: x.issuer
  }
}

/** Whether `certPem` was signed by the CA `caPem`. */
export const signedBy = (certPem: string, caPem: string): boolean => {
  try {
    const ca = new X509Certificate(caPem)
    const cert = new X509Certificate(certPem)
    return cert.checkIssued(ca) && cert.verify(ca.publicKey)
  } catch {
    return false
  }
}

const commonName = (cn: string) =>
  new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: "2.5.4.3", value: new asn1js.Utf8String({ value: cn }) })]
  })

const extension = (extnID: string, critical: boolean, value: { toSchema(): { toBER(sizeOnly?: boolean): ArrayBuffer } } | asn1js.BaseBlock) =>
  new pkijs.Extension({
    extnID,
    critical,
    extnValue: ("toSchema" in value ? value.toSchema() : value).toBER(false)
  })

/** RFC 5280 key usage bits, as the DER BIT STRING wants them. */
const keyUsage = (bits: { digitalSignature?: boolean; keyCertSign?: boolean; cRLSign?: boolean }) => {
  const byte = (bits.digitalSignature ? 0x80 : 0) | (bits.keyCertSign ? 0x04 : 0) | (bits.cRLSign ? 0x02 : 0)
  const unused = byte === 0 ? 0 : Math.min(7, Math.log2(byte & -byte))
  return new asn1js.BitString({ valueHex: new Uint8Array([byte]).buffer, unusedBits: unused })
}

const ipBytes = (host: string): Uint8Array | undefined => {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return new Uint8Array(host.split(".").map(Number))
  if (host.includes(":")) {
    const [head, tail] = host.split("::") as [string, string | undefined]
    const parse = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)))
    const h = parse(head)
    const t = parse(tail)
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t]
    if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined
    return new Uint8Array(groups.flatMap((g) => [g >> 8, g & 0xff]))
  }
  return undefined
}

/** 16 random bytes from Effect's Random (seedable), positive as RFC 5280 wants. */
const serialNumber = Effect.map(
  Effect.all(Array.from({ length: 16 }, () => Random.nextIntBetween(0, 255))),
  (bytes) => {
    bytes[0] = (bytes[0]! & 0x7f) | 0x01
    return new Uint8Array(bytes).buffer
  }
)

const keyIdentifier = async (publicKey: CryptoKey) => {
  const spki = await subtle.exportKey("spki", publicKey)
  const info = pkijs.PublicKeyInfo.fromBER(spki)
  return subtle.digest("SHA-1", info.subjectPublicKey.valueBlock.valueHexView)
}

interface Build {
  readonly subject: string
  readonly issuer: pkijs.RelativeDistinguishedNames | undefined
  readonly issuerKey: CryptoKey | undefined
  readonly issuerKeyId: ArrayBuffer | undefined
  readonly ca: boolean
  readonly hosts: ReadonlyArray<string>
  readonly notBefore: number
  readonly notAfter: number
  readonly serial: ArrayBuffer
}

const build = async (options: Build): Promise<KeyPair> => {
  const keys = await subtle.generateKey(algorithm, true, ["sign", "verify"]) as webcrypto.CryptoKeyPair
  const cert = new pkijs.Certificate()
  cert.version = 2
  cert.serialNumber = new asn1js.Integer({ valueHex: options.serial })
  cert.subject = commonName(options.subject)
  cert.issuer = options.issuer ?? commonName(options.subject)
  cert.notBefore.value = new Date(options.notBefore)
  cert.notAfter.value = new Date(options.notAfter)
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey as any, engine)
  const keyId = await keyIdentifier(keys.publicKey)
  const extensions = [
    extension("2.5.29.19", true, new pkijs.BasicConstraints({ cA: options.ca })),
    extension("2.5.29.15", true, keyUsage(options.ca ? { digitalSignature: true, keyCertSign: true, cRLSign: true } : { digitalSignature: true })),
    extension("2.5.29.14", false, new asn1js.OctetString({ valueHex: keyId }))
  ]
  const authority = options.issuerKeyId ?? keyId
  extensions.push(extension("2.5.29.35", false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: authority }) })))
  if (!options.ca) {
    extensions.push(extension("2.5.29.37", false, new pkijs.ExtKeyUsage({ keyPurposes: ["1.3.6.1.5.5.7.3.1"] })))
    const names = options.hosts.map((host) => {
      const ip = ipBytes(host)
      return ip !== undefined
        ? new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ip.buffer as ArrayBuffer }) })
        : new pkijs.GeneralName({ type: 2, value: host })
    })
    extensions.push(extension("2.5.29.17", false, new pkijs.GeneralNames({ names })))
  }
  cert.extensions = extensions
  await cert.sign((options.issuerKey ?? keys.privateKey) as any, "SHA-256", engine)
  const key = await subtle.exportKey("pkcs8", keys.privateKey)
  return { cert: pem("CERTIFICATE", cert.toSchema(true).toBER(false)), key: pem("PRIVATE KEY", key) }
}

const attempt = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`) })

/** A self-signed CA. */
export const makeCa = (options: { readonly commonName: string; readonly notBefore: number; readonly notAfter: number }) =>
  Effect.flatMap(serialNumber, (serial) =>
    attempt("making the CA certificate", () =>
      build({ subject: options.commonName, issuer: undefined, issuerKey: undefined, issuerKeyId: undefined, ca: true, hosts: [], serial, ...options })
    ))

/** A serving certificate for `hosts` (DNS names or IP addresses) signed by `ca`. */
export const issue = (ca: KeyPair, options: {
  readonly commonName: string
  readonly hosts: ReadonlyArray<string>
  readonly notBefore: number
  readonly notAfter: number
}) =>
  Effect.flatMap(serialNumber, (serial) =>
    attempt("making the serving certificate", async () => {
      const caCert = pkijs.Certificate.fromBER(derOf(ca.cert, "CERTIFICATE"))
      const caKey = await subtle.importKey("pkcs8", derOf(ca.key, "PRIVATE KEY"), algorithm, false, ["sign"])
      const caKeyId = await keyIdentifier((await caCert.getPublicKey(undefined, engine)) as unknown as CryptoKey)
      return build({
        subject: options.commonName,
        issuer: caCert.subject,
        issuerKey: caKey,
        issuerKeyId: caKeyId,
        ca: false,
        hosts: options.hosts,
        serial,
        notBefore: options.notBefore,
        notAfter: Math.min(options.notAfter, info(ca.cert).notAfter)
      })
    }))
