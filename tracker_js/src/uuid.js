// uuid.js — random 128-bit ids (four base-36 words) for messages and visitors, on http pages too (randomUUID needs https)
export const uuid = () => [...crypto.getRandomValues(new Uint32Array(4))].map((n) => n.toString(36)).join('-')
