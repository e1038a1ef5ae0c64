// push_clients.cjs — drives real npm Loki clients against a Loki-compatible
// endpoint and prints, as JSON on stdout, every entry it logged the way the
// client's documented behaviour puts it on the wire (labels incl. structured
// metadata, ns timestamp, line). The e2e test reads them back and compares.
//
// usage: node push_clients.cjs <base-url> <winston-json|winston-proto|pino> <count>
'use strict'

const [, , base, mode, countArg] = process.argv
const count = parseInt(countArg || '100', 10)
const t0 = Date.now() - 120000 // ms; distinct per entry below
const expected = []

async function winstonRun (json) {
  const winston = require('winston')
  const LokiTransport = require('winston-loki')
  const app = json ? 'winston-json' : 'winston-proto'
  const transport = new LokiTransport({
    host: base,
    json,
    batching: true,
    interval: 1,
    labels: { app },
    replaceTimestamp: false,
    format: winston.format.printf(info => info.message),
    onConnectionError: err => { console.error('loki error', err); process.exitCode = 1 }
  })
  const logger = winston.createLogger({ level: 'debug', transports: [transport] })
  for (let i = 0; i < count; i++) {
    const ms = t0 + i
    const level = i % 3 === 0 ? 'warn' : 'info'
    const shard = String(i % 2)
    const message = `${app} entry ${i} "quoted" ünïcode \t tab`
    const meta = { timestamp: ms, labels: { shard } }
    if (json) meta.trace_id = `tid-${i}`
    logger.log(level, message, meta)
    const stream = { app, level, shard }
    // JSON mode sends the remaining winston fields as structured metadata
    // (level, trace_id); the store returns them merged into the stream.
    if (json) stream.trace_id = `tid-${i}`
    expected.push({ stream, ts: String(ms) + '000000', line: message })
  }
  await new Promise(resolve => setTimeout(resolve, 50))
  await transport.flush()
  await transport.close()
}

async function pinoRun () {
  const pino = require('pino')
  const { pinoLoki } = require('pino-loki')
  const transport = pinoLoki({
    host: base,
    batching: true,
    interval: 1,
    labels: { app: 'pino' },
    structuredMetaKey: 'sm'
  })
  let ms = t0
  const logger = pino({ base: null, timestamp: () => `,"time":${ms}` }, transport)
  for (let i = 0; i < count; i++) {
    ms = t0 + i
    const obj = { n: i, path: `/x/${i}` }
    if (i % 4 === 0) obj.sm = { request_id: `r${i}` }
    logger.info(obj, `pino entry ${i}`)
    const rec = { level: 30, time: ms, ...obj, msg: `pino entry ${i}` }
    const stream = { app: 'pino', level: 'info' }
    if (obj.sm) Object.assign(stream, obj.sm)
    expected.push({ stream, ts: String(ms) + '000000', line: JSON.stringify(rec) })
  }
  await new Promise(resolve => {
    transport.on('close', resolve)
    transport.end()
  })
}

async function main () {
  if (mode === 'winston-json') await winstonRun(true)
  else if (mode === 'winston-proto') await winstonRun(false)
  else if (mode === 'pino') await pinoRun()
  else throw new Error('unknown mode ' + mode)
  process.stdout.write(JSON.stringify(expected) + '\n')
}

main().catch(err => { console.error(err); process.exit(1) })
