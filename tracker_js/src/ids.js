// ids.js — random 128-bit ids (four decimal words) for messages and visitors, on http pages too (randomUUID needs https)
export const newId = () => crypto.getRandomValues(new Uint32Array(4)).join('-')
