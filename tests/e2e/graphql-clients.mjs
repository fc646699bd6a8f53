// Quire's GraphQL through the clients front-ends use: graphql-request for queries and
// mutations over HTTP, graphql-ws (on the `ws` package) for a subscription. Run by
// tests/it/graphql.rs with BASE (the app), SLUG (a published post), AUTHOR and READER (API
// tokens of an author and of a reader); prints "graphql clients passed" when all held.
import { GraphQLClient, ClientError, gql } from "graphql-request";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const { BASE, SLUG, AUTHOR, READER } = process.env;
const endpoint = `${BASE}/graphql`;
const check = (ok, what, got) => {
  if (!ok) {
    console.error(`FAILED: ${what}: ${JSON.stringify(got)}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
};
const codeOf = (e) => (e instanceof ClientError ? e.response.errors?.[0]?.extensions?.code : String(e));

// A reader app's page: one query for the post, its author, tags and comments.
const anonymous = new GraphQLClient(endpoint);
const page = await anonymous.request(
  gql`
    query Page($slug: String!) {
      post(slug: $slug) { title bodyHtml author { username } tags { name } comments(first: 5) { totalCount } }
      site { title }
    }
  `,
  { slug: SLUG },
);
check(page.post?.author?.username === "ada", "a post page in one query", page);

// A GET query (what a CDN or the hot-page cache can keep).
const byGet = new GraphQLClient(endpoint, { method: "GET" });
const listed = await byGet.request(gql`{ posts(first: 2) { totalCount edges { node { slug } } } }`);
check(listed.posts.totalCount >= 1, "a list by GET", listed);

// Writing needs a token; without one, the error says so.
try {
  await anonymous.request(gql`mutation { createPost(input: { title: "No", body: "token" }) { slug } }`);
  check(false, "a mutation without a token is refused", "it was accepted");
} catch (e) {
  check(codeOf(e) === "UNAUTHENTICATED", "a mutation without a token is refused", codeOf(e));
}
const author = new GraphQLClient(endpoint, { headers: { Authorization: `Bearer ${AUTHOR}` } });
const made = await author.request(
  gql`mutation($input: CreatePostInput!) { createPost(input: $input) { slug version status } }`,
  { input: { title: "From graphql-request", body: "Hello from **npm**", tags: ["Clients"] } },
);
check(made.createPost.status === "DRAFT", "createPost makes a draft", made);
const saved = await author.request(
  gql`mutation($slug: String!, $v: Int) { updatePost(slug: $slug, version: $v, input: { status: PUBLISHED }) { status version } }`,
  { slug: made.createPost.slug, v: made.createPost.version },
);
check(saved.updatePost.status === "PUBLISHED", "updatePost publishes it", saved);
try {
  await author.request(
    gql`mutation($slug: String!, $v: Int) { updatePost(slug: $slug, version: $v, input: { title: "Lost" }) { version } }`,
    { slug: made.createPost.slug, v: made.createPost.version },
  );
  check(false, "an edit of an old version is a conflict", "it was saved");
} catch (e) {
  check(codeOf(e) === "CONFLICT", "an edit of an old version is a conflict", codeOf(e));
}

// A subscription: the page's comments as they come.
class SameOriginSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { headers: { Origin: BASE } });
  }
}
const live = createClient({
  url: `${BASE.replace(/^http/, "ws")}/ws/graphql`,
  webSocketImpl: SameOriginSocket,
  lazy: false,
});
await new Promise((resolve, reject) => {
  live.on("connected", resolve);
  live.on("error", reject);
  setTimeout(() => reject(new Error("no connection_ack within 10 s")), 10_000);
});
const heard = new Promise((resolve, reject) => {
  live.subscribe(
    { query: "subscription($slug: String!) { commentAdded(postSlug: $slug) { bodyHtml author { username } } }", variables: { slug: SLUG } },
    { next: resolve, error: reject, complete: () => reject(new Error("completed early")) },
  );
  setTimeout(() => reject(new Error("no comment within 10 s")), 10_000);
});
// The subscription is registered once its subscribe message is read: a moment.
await new Promise((r) => setTimeout(r, 300));
const reader = new GraphQLClient(endpoint, { headers: { Authorization: `Bearer ${READER}` } });
await reader.request(gql`mutation($slug: String!) { addComment(postSlug: $slug, body: "Heard *live*") { id } }`, { slug: SLUG });
const pushed = await heard;
check(pushed.data?.commentAdded?.author?.username === "reader", "commentAdded pushed the new comment", pushed);
await live.dispose();
console.log("graphql clients passed");
// The timeouts above would keep Node waiting for them.
process.exit(0);
