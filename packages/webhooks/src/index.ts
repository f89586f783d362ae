export { type AddressVerdict, type Cidr, classifyAddress, parseCidrs } from "./address.ts";
export {
  createTargetGuard,
  DEFAULT_TARGET_POLICY,
  type LookupAll,
  type ResolvedTarget,
  resolveTarget,
  systemLookup,
  type TargetPolicy,
  TargetRefused,
} from "./target.ts";
export {
  HttpWebhookTransport,
  type HttpWebhookTransportOptions,
  signatureHeader,
} from "./transport.ts";
