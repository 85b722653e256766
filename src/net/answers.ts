// What the datapath answers a denied request with, defined once: codegen renders it into
// bpf-templates/answers.generated.h and the simulator predicts the same bytes.
// Envoy's answer, as Cilium users know it: 403, `Access denied` and CRLF (15 bytes).

/** How a denial is answered (the deploy option `--deny-answer`, the `l7cfg` map). */
export const ANSWER_MODES = ['auto', 'reset', 'close'] as const;
export type AnswerMode = (typeof ANSWER_MODES)[number];

/** Values of `struct l7_config.answer`: 0 (a map never filled) is the highest stage that works. */
export const ANSWER_MODE_VALUE: Readonly<Record<AnswerMode, number>> = { auto: 0, reset: 1, close: 2 };

/** HTTP/1.1 stage 2: the answer to a denied request, then FIN (the server's side is reset). */
export const HTTP1_FORBIDDEN = Buffer.from(
  'HTTP/1.1 403 Forbidden\r\n'
  + 'Content-Length: 15\r\n'
  + 'Content-Type: text/plain\r\n'
  + 'Connection: close\r\n'
  + '\r\n'
  + 'Access denied\r\n',
  'latin1',
);
