<?xml version="1.0" encoding="utf-8"?>
<!-- What a browser shows for one of the site's Atom feeds (each names this stylesheet in an
     xml-stylesheet instruction): a page in the site's style that says what a feed is and
     lists its entries. No script and no inline style: the page is under the feed's
     Content-Security-Policy. Feed readers ignore this. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
<xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>
<xsl:template match="/atom:feed">
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="robots" content="noindex"/>
<meta name="color-scheme" content="light dark"/>
<title><xsl:value-of select="atom:title"/> · Feed</title>
<link rel="stylesheet" href="{{ site.css_url }}"/>
{%- if let Some(href) = site.theme_css_url %}
<link rel="stylesheet" href="{{ href }}"/>
{%- endif %}
<link rel="icon" href="{{ site.favicon_url }}"/>
</head>
<body>
<header class="site-header">
  <div class="wrap">
    <a class="brand" href="{{ site.base }}/">{{ site.title }}</a>
  </div>
</header>
<main id="main" class="wrap feed-page">
  <section class="intro">
    <p class="kicker">Feed</p>
    <h1><xsl:value-of select="atom:title"/></h1>
    <xsl:if test="normalize-space(atom:subtitle)">
      <p><xsl:value-of select="atom:subtitle"/></p>
    </xsl:if>
  </section>
  <div class="feed-about">
    <p><strong>This is a feed.</strong> Copy its address into a feed reader (NetNewsWire, Feedly, Inoreader, Thunderbird…) to get new posts as they are published.</p>
    <p class="feed-url"><code><xsl:value-of select="atom:link[@rel='self']/@href"/></code></p>
    <p><a href="{atom:link[@rel='alternate']/@href}">Read these posts on the site →</a></p>
  </div>
  <xsl:choose>
    <xsl:when test="atom:entry">
      <ol class="feed-entries">
        <xsl:for-each select="atom:entry">
          <li>
            <h2 class="card-title"><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h2>
            <p class="meta">
              <time datetime="{atom:published}"><xsl:value-of select="substring(atom:published, 1, 10)"/></time>
              <xsl:text> · </xsl:text><xsl:value-of select="atom:author/atom:name"/>
            </p>
            <xsl:if test="normalize-space(atom:summary)">
              <p><xsl:value-of select="atom:summary"/></p>
            </xsl:if>
          </li>
        </xsl:for-each>
      </ol>
    </xsl:when>
    <xsl:otherwise>
      <p class="empty">No posts here yet.</p>
    </xsl:otherwise>
  </xsl:choose>
</main>
</body>
</html>
</xsl:template>
</xsl:stylesheet>
