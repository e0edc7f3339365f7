"""HTML pages relays and CDNs answer with: Cloudflare 5xx errors and a relay's web UI (R3, R28)."""
from __future__ import annotations

_SOURCE = (
    '<div id="cf-{key}-status" class="cf-error-source relative w-1/3 md:w-full py-15 md:p-0 md:py-8\n'
    '     md:text-left md:border-solid md:border-0 md:border-b md:border-gray-400 overflow-hidden float-left\n'
    '     md:float-none text-center">{label} <span class="cf-icon-{state}">{status}</span></div>\n'
)


def cloudflare_page(code: int, title: str, detail: str) -> bytes:
    """A Cloudflare-style error page: several KB of markup that a client must never quote whole."""
    style = "".join(
        f".cf-rule-{i}{{margin:0 0 {i}px;padding:{i % 7}px;"
        f"font:{12 + i % 5}px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif}}\n"
        for i in range(60)
    )
    sources = "".join(
        _SOURCE.format(key=key, label=label, state=state, status=status)
        for key, label, state, status in (
            ("browser", "Browser", "ok", "Working"),
            ("cloudflare", "Cloudflare", "ok", "Working"),
            ("host", "Host", "error", "Error"),
        )
    )
    return f"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>example.com | {code}: {title}</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
<style>
{style}</style>
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
        <span class="inline-block">{title}</span>
        <span class="code-label">Error code {code}</span>
      </h1>
      <div>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{code}"
        target="_blank" rel="noopener noreferrer">cloudflare.com</a> for more information.</div>
    </header>
    <div class="my-8 bg-gradient-gray">
      <div class="w-240 lg:w-full mx-auto">
{sources}      </div>
    </div>
    <div class="w-240 lg:w-full mx-auto mb-8 lg:px-8">
      <div class="clearfix">
        <div class="w-1/2 md:w-full float-left pr-6 md:pb-10 md:pr-0 leading-relaxed">
          <h2 class="text-3xl font-normal leading-1.3 mb-4">What happened?</h2>
          <p>{detail}</p>
        </div>
        <div class="w-1/2 md:w-full float-left leading-relaxed">
          <h2 class="text-3xl font-normal leading-1.3 mb-4">What can I do?</h2>
          <p class="mb-6">Please try again in a few minutes.</p>
        </div>
      </div>
    </div>
    <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center">
      <p class="text-13"><span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID:
        <strong class="font-semibold">8f3a2b1c4d5e6f70</strong></span></p>
    </div>
  </div>
</div>
</body>
</html>
""".encode()


# The SPA index one-api / new-api serve for any path outside /v1, /api and /assets.
SPA_PAGE = """<!doctype html>
<html lang="zh">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" href="/logo.png" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta name="theme-color" content="#ffffff" />
    <meta name="description" content="OpenAI 接口管理 & 分发系统" />
    <title>New API</title>
    <script type="module" crossorigin src="/assets/index-4f9c1d2e.js"></script>
    <link rel="stylesheet" href="/assets/index-7a8b9c0d.css">
  </head>
  <body>
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
  </body>
</html>
""".encode()
