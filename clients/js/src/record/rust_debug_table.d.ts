export const ESCAPED_RANGES: number[][];
