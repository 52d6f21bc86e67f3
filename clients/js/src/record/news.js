export function describeMerge() { return null; }
