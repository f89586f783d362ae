/**
 * `attachment; filename=…` for downloads (the API's and presigned S3 ones): an ASCII fallback plus the
 * exact name in RFC 8187 form, so no name can break the header.
 */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
