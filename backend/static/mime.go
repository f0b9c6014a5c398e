package static

import (
	"path"
	"strings"
)

// types maps file extensions to media types. It is built in so that responses do
// not depend on the machine's /etc/mime.types.
var types = map[string]string{
	".html": "text/html", ".htm": "text/html", ".css": "text/css", ".txt": "text/plain",
	".csv": "text/csv", ".md": "text/markdown", ".xml": "text/xml", ".ics": "text/calendar",
	".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
	".map": "application/json", ".webmanifest": "application/manifest+json",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/vnd.microsoft.icon",
	".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff", ".apng": "image/apng",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".pdf": "application/pdf", ".wasm": "application/wasm", ".zip": "application/zip",
	".gz": "application/gzip", ".tar": "application/x-tar", ".br": "application/x-brotli",
	".zst": "application/zstd", ".bin": "application/octet-stream",
	".mp4": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg", ".mp3": "audio/mpeg",
	".ogg": "audio/ogg", ".oga": "audio/ogg", ".wav": "audio/wav", ".flac": "audio/flac",
	".m4a": "audio/mp4", ".aac": "audio/aac", ".opus": "audio/ogg",
	".rss": "application/rss+xml", ".atom": "application/atom+xml", ".yaml": "text/yaml", ".yml": "text/yaml",
	".toml": "text/plain", ".sh": "text/plain", ".py": "text/plain", ".go": "text/plain",
}

// DefaultType is sent for files whose extension is not in the table.
const DefaultType = "application/octet-stream"

// ContentType returns the Content-Type for a file name: text types get
// "; charset=utf-8".
func ContentType(name string) string {
	t, ok := types[strings.ToLower(path.Ext(name))]
	if !ok {
		return DefaultType
	}
	if strings.HasPrefix(t, "text/") || t == "application/json" || t == "image/svg+xml" ||
		t == "application/manifest+json" || strings.HasSuffix(t, "+xml") {
		return t + "; charset=utf-8"
	}
	return t
}
