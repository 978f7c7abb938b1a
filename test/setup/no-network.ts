// Every test file runs with the network closed: only loopback may be reached.
// nock intercepts both node:http and Node's global fetch, so a stray real request fails fast
// with NetConnectNotAllowedError instead of leaving the machine.
import nock from "nock";

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)(:\d+)?$/;

nock.disableNetConnect();
nock.enableNetConnect((host) => LOOPBACK.test(host));
