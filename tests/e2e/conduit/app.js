// The test front-end's whole client: fetch calls to the API given as `?api=`, the JWT in
// localStorage, errors shown as the spec's `{"errors": {"field": ["message"]}}`.
const api = new URLSearchParams(location.search).get('api');
const $ = (id) => document.getElementById(id);
let current = null; // the article on show

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = localStorage.getItem('jwt');
  if (token) headers.Authorization = `Token ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${api}/api${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? {} : await res.json();
  if (!res.ok) {
    const errors = Object.entries(data.errors || {})
      .map(([field, messages]) => `${field} ${messages.join(', ')}`).join('; ');
    throw new Error(`${res.status}: ${errors}`);
  }
  return data;
}

function say(text) { $('status').textContent = text; }

function handle(form, run) {
  $(form).addEventListener('submit', async (event) => {
    event.preventDefault();
    try { await run(new FormData(event.target)); } catch (e) { say(e.message); }
  });
}

function click(id, run) {
  $(id).addEventListener('click', async () => {
    try { await run(); } catch (e) { say(e.message); }
  });
}

function signedIn(user) {
  localStorage.setItem('jwt', user.token);
  $('me').textContent = user.username;
  say(`Welcome, ${user.username}`);
}

function list(ul, articles) {
  ul.replaceChildren(...articles.map((a) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = a.title;
    button.addEventListener('click', () => open(a.slug).catch((e) => say(e.message)));
    li.append(button, ` (${a.tagList.join(', ')}) by ${a.author.username}`);
    return li;
  }));
}

function show(article) {
  current = article;
  $('article').hidden = false;
  $('title').textContent = article.title;
  $('author').textContent = article.author.username;
  $('tags').textContent = article.tagList.join(', ');
  $('favorites').textContent = String(article.favoritesCount);
  $('favorite').textContent = article.favorited ? 'Unfavorite Article' : 'Favorite Article';
  $('follow').textContent = article.author.following ? 'Unfollow' : 'Follow';
}

async function open(slug) {
  show((await call('GET', `/articles/${slug}`)).article);
  const { comments } = await call('GET', `/articles/${slug}/comments`);
  $('comments').replaceChildren(...comments.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.author.username}: ${c.body}`;
    return li;
  }));
}

handle('register', async (f) => {
  const { user } = await call('POST', '/users', { user: {
    username: f.get('username'), email: f.get('email'), password: f.get('password') } });
  signedIn(user);
});

handle('login', async (f) => {
  const { user } = await call('POST', '/users/login', { user: {
    email: f.get('email'), password: f.get('password') } });
  signedIn(user);
});

click('logout', async () => {
  localStorage.removeItem('jwt');
  $('me').textContent = 'nobody';
  say('Signed out');
});

handle('editor', async (f) => {
  const tagList = String(f.get('tags')).split(',').map((t) => t.trim()).filter(Boolean);
  const { article } = await call('POST', '/articles', { article: {
    title: f.get('title'), description: f.get('description'), body: f.get('body'), tagList } });
  show(article);
  say(`Published ${article.slug}`);
});

handle('by-tag', async (f) => {
  const { articles, articlesCount } =
    await call('GET', `/articles?tag=${encodeURIComponent(f.get('tag'))}&limit=10`);
  list($('articles'), articles);
  say(`${articlesCount} article(s) tagged ${f.get('tag')}`);
});

click('favorite', async () => {
  const method = current.favorited ? 'DELETE' : 'POST';
  show((await call(method, `/articles/${current.slug}/favorite`)).article);
});

click('follow', async () => {
  const method = current.author.following ? 'DELETE' : 'POST';
  const { profile } = await call(method, `/profiles/${current.author.username}/follow`);
  show({ ...current, author: profile });
});

handle('comment', async (f) => {
  await call('POST', `/articles/${current.slug}/comments`, { comment: { body: f.get('body') } });
  await open(current.slug);
  say('Comment posted');
});

click('feed', async () => {
  const { articles, articlesCount } = await call('GET', '/articles/feed?limit=10');
  list($('feed-list'), articles);
  say(`${articlesCount} article(s) in your feed`);
});
