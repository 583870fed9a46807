"""The OpenAPI document, its two documentation pages, and a schemathesis run over every operation."""

import json

import pytest
from drf_spectacular.validation import validate_schema

from .conftest import FastAPIClient


@pytest.fixture
def schema(db):
    response = FastAPIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)
    assert len(list(operations(schema))) >= 30


def test_api_key_security_schemes_are_described_and_required_everywhere(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "fm_<prefix>_<secret>",
        "description": schemes["ApiKeyBearer"]["description"],
    }
    assert schemes["ApiKeyHeader"]["in"] == "header" and schemes["ApiKeyHeader"]["name"] == "X-Api-Key"
    for path, method, operation in operations(schema):
        assert {"ApiKeyBearer": []} in operation["security"], (method, path)
        assert {"ApiKeyHeader": []} in operation["security"], (method, path)


def test_every_operation_has_examples_and_documents_its_errors(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        has_example = any(
            "examples" in responses[code].get("content", {}).get("application/json", {}) for code in success
        )
        has_request_example = "examples" in operation.get("requestBody", {}).get("content", {}).get(
            "application/json", {}
        )
        assert has_example or has_request_example or method == "delete", (method, path)
        assert operation.get("summary"), (method, path)
        for code in ("400", "401", "403", "404", "429"):
            assert responses[code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }


def test_summary_documents_etag_and_304(schema):
    operation = schema["paths"]["/api/v1/sessions/{session_uuid}/summary/"]["get"]
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert any(p["name"] == "If-None-Match" and p["in"] == "header" for p in operation["parameters"])


@pytest.mark.parametrize("page, marker", [("/api/v1/docs/", "swagger-ui"), ("/api/v1/redoc/", "redoc")])
def test_documentation_pages_load_their_assets_from_the_sidecar_package(db, page, marker):
    client = FastAPIClient()
    html = client.get(page).content.decode()
    assert marker in html.lower()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assets = [
        part.split('"')[0]
        for part in html.split('src="')[1:]
        if "drf_spectacular_sidecar" in part.split('"')[0]
    ]
    assert assets, html[:500]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 1000, asset
