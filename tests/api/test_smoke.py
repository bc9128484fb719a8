"""A first end-to-end check of the API plumbing through the DRF client."""

import pytest


@pytest.mark.django_db
def test_create_site_and_list(api):
    r = api.post("/api/dcim/sites/", {"name": "Zittau", "slug": "zittau"}, format="json")
    assert r.status_code == 201, r.content
    assert r["API-Version"]
    r = api.get("/api/dcim/sites/?slug=zittau")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    assert body["results"][0]["url"].endswith(f"/api/dcim/sites/{body['results'][0]['id']}/")
