"""Prints N entity paths (/api/v1/entities/KEY) read from a running server, a page at a time."""
import json
import sys
import urllib.parse
import urllib.request

base, token, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
after, printed = None, 0
while printed < wanted:
    query = {"select": "*", "limit": "10000"}
    if after:
        query["after"] = after
    request = urllib.request.Request(
        f"{base}/api/v1/entities?{urllib.parse.urlencode(query)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    page = json.load(urllib.request.urlopen(request, timeout=600))
    for entity in page["entities"]:
        print("/api/v1/entities/" + urllib.parse.quote(entity["key"], safe="/"))
        printed += 1
    after = page.get("next")
    if not after:
        break
