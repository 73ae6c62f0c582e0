// The same subscription-option inputs for the browser build and the Node
// package (run.js compares the outcomes): one rule set, stan_core::js.

/**
 * The subscription option rules of the browser build, as outcomes to compare
 * with the Node package's (run.js feeds both the same inputs).
 */
export const SUB_OPTION_CASES = [
  { ackWait: 1500 },
  { ackWait: 500 },
  { maxInFlight: 0 },
  { startPosition: 9 },
  { ackWait: 2000, maxInFlight: 1, startPosition: 4 }
]

/** `subscribe` with each case; the outcome: thrown / error (code, text) / ready. */
export async function subscriptionOutcomes (sc, cases, subject) {
  const out = []
  for (const c of cases) {
    const o = sc.subscriptionOptions()
    Object.assign(o, c)
    let sub
    try {
      sub = sc.subscribe(subject, o)
    } catch (e) {
      out.push(`threw ${e.code}: ${e.message}`)
      continue
    }
    out.push(await new Promise((resolve) => {
      const t = setTimeout(() => resolve('nothing'), 3000)
      sub.once('ready', () => { clearTimeout(t); sub.unsubscribe(); resolve('ready') })
      sub.once('error', (e) => { clearTimeout(t); resolve(`error ${e.code}: ${e.message}`) })
    }))
  }
  return out
}

