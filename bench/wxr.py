#!/usr/bin/env python3
"""A WordPress export (WXR 1.2) of a big blog, for the import benchmark (bench/README.md).

    python3 bench/wxr.py --posts 20000 --comments 100000 > big.xml

Posts mix the classic editor's text (blank lines between paragraphs) and block-editor
content (<!-- wp:... --> comments, code with a language, lists, quotes, images), with
categories and tags, threaded comments by guests and by authors, and attachments. The
same arguments always give the same file.
"""

import argparse
import random
import sys
from xml.sax.saxutils import escape

WORDS = (
    "rust web server page post reader author editor admin tag search cache query index "
    "markdown render template session cookie redis postgres table column migration test "
    "bench latency throughput memory thread async await future stream buffer socket"
).split()


def sentence(rng, n=12):
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def paragraph(rng):
    return " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 6)))


def classic(rng, post_id):
    parts = []
    for i in range(rng.randint(5, 9)):
        if i == 2:
            parts.append(f"<h2>{sentence(rng, 4)}</h2>")
        elif i == 4:
            parts.append(
                f'[caption id="attachment_{post_id}" align="aligncenter" width="640"]'
                f'<img src="https://old.example/wp-content/uploads/2019/05/p{post_id}.jpg" '
                f'alt="{sentence(rng, 3)}" width="640" height="480" /> {sentence(rng, 5)}[/caption]'
            )
        else:
            parts.append(paragraph(rng) + "\nA second line.")
    return "\n\n".join(parts)


def blocks(rng, post_id):
    parts = []
    for i in range(rng.randint(5, 9)):
        if i == 1:
            parts.append(
                '<!-- wp:heading -->\n<h2 class="wp-block-heading">'
                + sentence(rng, 4)
                + "</h2>\n<!-- /wp:heading -->"
            )
        elif i == 3:
            parts.append(
                '<!-- wp:code {"language":"rust"} -->\n<pre class="wp-block-code"><code lang="rust" '
                'class="language-rust">fn main() {\n    println!("hello {}", 1 &lt; 2);\n}</code>'
                "</pre>\n<!-- /wp:code -->"
            )
        elif i == 4:
            items = "".join(f"<li>{sentence(rng, 5)}</li>" for _ in range(4))
            parts.append(
                f'<!-- wp:list -->\n<ul class="wp-block-list">{items}</ul>\n<!-- /wp:list -->'
            )
        elif i == 5:
            parts.append(
                '<!-- wp:quote -->\n<blockquote class="wp-block-quote"><p>'
                + sentence(rng)
                + "</p></blockquote>\n<!-- /wp:quote -->"
            )
        else:
            parts.append(
                "<!-- wp:paragraph -->\n<p>" + paragraph(rng) + "</p>\n<!-- /wp:paragraph -->"
            )
    return "\n\n".join(parts)


def cdata(s):
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--comments", type=int, default=100000)
    ap.add_argument("--authors", type=int, default=12)
    ap.add_argument("--categories", type=int, default=40)
    ap.add_argument("--tags", type=int, default=400)
    args = ap.parse_args()
    rng = random.Random(26)
    out = sys.stdout
    w = out.write
    w('<?xml version="1.0" encoding="UTF-8" ?>\n')
    w(
        '<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
    )
    w("<title>A big old blog</title>\n<link>https://old.example</link>\n")
    w("<description>Twenty thousand posts</description>\n<wp:wxr_version>1.2</wp:wxr_version>\n")
    w("<wp:base_site_url>https://old.example</wp:base_site_url>\n")
    w("<wp:base_blog_url>https://old.example</wp:base_blog_url>\n")
    for a in range(1, args.authors + 1):
        w(
            f"<wp:author><wp:author_id>{a}</wp:author_id><wp:author_login>{cdata(f'writer{a}')}"
            f"</wp:author_login><wp:author_email>{cdata(f'writer{a}@old.example')}</wp:author_email>"
            f"<wp:author_display_name>{cdata(f'Writer Number {a}')}</wp:author_display_name>"
            "</wp:author>\n"
        )
    for c in range(1, args.categories + 1):
        w(
            f"<wp:category><wp:term_id>{c}</wp:term_id><wp:category_nicename>{cdata(f'topic-{c}')}"
            f"</wp:category_nicename><wp:category_parent></wp:category_parent>"
            f"<wp:cat_name>{cdata(f'Topic {c}')}</wp:cat_name></wp:category>\n"
        )
    for t in range(1, args.tags + 1):
        w(
            f"<wp:tag><wp:term_id>{1000 + t}</wp:term_id><wp:tag_slug>{cdata(f'tag-{t}')}</wp:tag_slug>"
            f"<wp:tag_name>{cdata(f'Tag {t}')}</wp:tag_name></wp:tag>\n"
        )
    per_post = [0] * args.posts
    for _ in range(args.comments):
        per_post[rng.randrange(args.posts)] += 1
    comment_id = 0
    for p in range(args.posts):
        post_id = 10 + p
        year = 2010 + p * 15 // max(args.posts, 1)
        month = 1 + p % 12
        day = 1 + p % 28
        date = f"{year}-{month:02d}-{day:02d} 10:{p % 60:02d}:00"
        slug = f"post-number-{p}"
        content = classic(rng, post_id) if p % 2 else blocks(rng, post_id)
        cats = "".join(
            f'<category domain="category" nicename="topic-{c}">{cdata(f"Topic {c}")}</category>'
            for c in rng.sample(range(1, args.categories + 1), 2)
        )
        tags = "".join(
            f'<category domain="post_tag" nicename="tag-{t}">{cdata(f"Tag {t}")}</category>'
            for t in rng.sample(range(1, args.tags + 1), 3)
        )
        w("<item>\n")
        w(f"<title>{escape(sentence(rng, 6))}</title>\n")
        w(f"<link>https://old.example/{year}/{month:02d}/{day:02d}/{slug}/</link>\n")
        w(f"<dc:creator>{cdata(f'writer{1 + p % args.authors}')}</dc:creator>\n")
        w(f"<content:encoded>{cdata(content)}</content:encoded>\n")
        w(f"<excerpt:encoded>{cdata('')}</excerpt:encoded>\n")
        w(f"<wp:post_id>{post_id}</wp:post_id>\n")
        w(f"<wp:post_date>{cdata(date)}</wp:post_date>\n")
        w(f"<wp:post_date_gmt>{cdata(date)}</wp:post_date_gmt>\n")
        w(f"<wp:post_name>{cdata(slug)}</wp:post_name>\n")
        w(f"<wp:status>{cdata('publish' if p % 50 else 'draft')}</wp:status>\n")
        w("<wp:post_parent>0</wp:post_parent>\n")
        w(f"<wp:post_type>{cdata('post')}</wp:post_type>\n")
        w(f"<wp:is_sticky>{1 if p % 500 == 0 else 0}</wp:is_sticky>\n")
        w(cats + tags + "\n")
        first = comment_id + 1
        for k in range(per_post[p]):
            comment_id += 1
            parent = first + rng.randrange(k) if k and rng.random() < 0.3 else 0
            guest = rng.random() < 0.8
            user = 0 if guest else 1 + rng.randrange(args.authors)
            w("<wp:comment>")
            w(f"<wp:comment_id>{comment_id}</wp:comment_id>")
            w(f"<wp:comment_author>{cdata('Reader ' + str(comment_id % 997))}</wp:comment_author>")
            w(f"<wp:comment_author_email>{cdata(f'r{comment_id % 997}@mail.example')}</wp:comment_author_email>")
            w(f"<wp:comment_author_url>{cdata('https://reader.example/')}</wp:comment_author_url>")
            w(f"<wp:comment_date_gmt>{cdata(date)}</wp:comment_date_gmt>")
            w(f"<wp:comment_content>{cdata(paragraph(rng))}</wp:comment_content>")
            w(f"<wp:comment_approved>{cdata('1' if comment_id % 40 else 'spam')}</wp:comment_approved>")
            w(f"<wp:comment_type>{cdata('comment')}</wp:comment_type>")
            w(f"<wp:comment_parent>{parent}</wp:comment_parent>")
            w(f"<wp:comment_user_id>{user}</wp:comment_user_id>")
            w("</wp:comment>\n")
        w("</item>\n")
    w("</channel>\n</rss>\n")


if __name__ == "__main__":
    main()
