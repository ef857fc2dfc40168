// Apollo Client 4 as a frontend uses it, against the live API: a query, paging with cursors,
// automatic persisted queries (PersistedQueryLink) and a subscription (GraphQLWsLink + graphql-ws).
//
//   node client.mjs <http url of /graphql> <ws url of /graphql> <api key> <shipment id to follow>
//
// Prints one JSON line per step: {"step": ..., ...}. After {"step": "subscribed"} it waits for one
// update of the followed shipment (the test publishes it), then prints it and exits 0.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createHash } from "node:crypto";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [httpUrl, wsUrl, apiKey, followId] = process.argv.slice(2);
const say = (step, data) => console.log(JSON.stringify({ step, ...data }));

// Every HTTP request body, to show what PersistedQueryLink sent.
const sent = [];
const recordingFetch = async (uri, options) => {
  sent.push(JSON.parse(options.body));
  return fetch(uri, options);
};
const http = new HttpLink({ uri: httpUrl, headers: { "X-API-Key": apiKey }, fetch: recordingFetch });
const client = new ApolloClient({ link: http, cache: new InMemoryCache() });

const SHIPMENT = gql`
  query Shipment($id: ID!) {
    shipment(id: $id) { id status timeline { eventType time } }
  }
`;
const PAGE = gql`
  query Page($first: Int, $after: String) {
    shipments(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } }
  }
`;

const one = await client.query({ query: SHIPMENT, variables: { id: "SHP-0001" } });
say("query", { shipment: one.data.shipment });

const ids = [];
let after = null;
for (let pages = 0; pages < 10; pages++) {
  const page = await client.query({ query: PAGE, variables: { first: 2, after }, fetchPolicy: "network-only" });
  ids.push(...page.data.shipments.edges.map((edge) => edge.node.id));
  if (!page.data.shipments.pageInfo.hasNextPage) break;
  after = page.data.shipments.pageInfo.endCursor;
}
// `first` unset: Apollo sends {"first": null}, which must mean the default page size.
const unset = await client.query({ query: PAGE, variables: {}, fetchPolicy: "network-only" });
say("paging", { ids, unsetFirst: unset.data.shipments.edges.length });

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const apq = new ApolloClient({
  link: ApolloLink.from([new PersistedQueryLink({ sha256 }), http]),
  cache: new InMemoryCache(),
});
const APQ_QUERY = gql`
  query PersistedShipment($id: ID!) {
    shipment(id: $id) { id status totalTransitHours }
  }
`;
sent.length = 0;
const first = await apq.query({ query: APQ_QUERY, variables: { id: "SHP-0002" }, fetchPolicy: "network-only" });
const firstRound = sent.map((body) => ({ hashOnly: body.query === undefined, hash: body.extensions?.persistedQuery?.sha256Hash }));
sent.length = 0;
const second = await apq.query({ query: APQ_QUERY, variables: { id: "SHP-0002" }, fetchPolicy: "network-only" });
const secondRound = sent.map((body) => ({ hashOnly: body.query === undefined, hash: body.extensions?.persistedQuery?.sha256Hash }));
say("apq", { first: first.data.shipment, second: second.data.shipment, firstRound, secondRound });

const ws = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { "X-API-Key": apiKey } });
const live = new ApolloClient({ link: new GraphQLWsLink(ws), cache: new InMemoryCache() });
const UPDATED = gql`
  subscription Follow($id: ID!) {
    shipmentUpdated(id: $id) { id status event { eventId eventType } }
  }
`;
const update = await new Promise((resolve, reject) => {
  const subscription = live.subscribe({ query: UPDATED, variables: { id: followId } }).subscribe({
    next: (result) => {
      subscription.unsubscribe();
      resolve(result);
    },
    error: reject,
  });
  ws.on("connected", () => say("subscribed", {}));
  setTimeout(() => reject(new Error("no update within 30 s")), 30000);
});
say("subscription", { data: update.data, error: update.error ? String(update.error) : null });
await ws.dispose();
process.exit(0);
