import Foundation

/// One part of a multipart/form-data body.
struct FormPart: Sendable {
    /// The form field's name.
    var name: String
    var filename: String?
    var contentType: String?
    var data: Data

    /// How errors name this part: its file name, else its field name.
    var label: String { filename ?? name }
}

/// A small multipart/form-data reader (RFC 7578) for bodies already read into memory and
/// bounded by --max-body-mb: it finds parts by their boundary and reads each part's
/// Content-Disposition and Content-Type. Errors say what is wrong with the body.
enum MultipartForm {
    static let maxParts = 1_000

    /// The boundary of a `multipart/form-data; boundary=...` content type.
    static func boundary(contentType: String) throws(ServeError) -> String {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.utf8.count) else { break }
            return value
        }
        throw .badRequest("multipart/form-data body without a valid boundary parameter in its Content-Type")
    }

    static func parse(_ body: Data, boundary: String) throws(ServeError) -> [FormPart] {
        let delimiter = Data("--\(boundary)".utf8)
        guard var cursor = body.firstRange(of: delimiter)?.upperBound else {
            throw .badRequest("multipart body does not contain its boundary '\(boundary)'")
        }
        let separator = Data("\r\n--\(boundary)".utf8)
        var parts: [FormPart] = []
        while true {
            // After a delimiter: "--" ends the body, else CRLF starts a part.
            let rest = body[cursor...]
            if rest.starts(with: Data("--".utf8)) { break }
            guard rest.starts(with: Data("\r\n".utf8)) else {
                throw .badRequest("multipart body is malformed after part \(parts.count + 1)'s boundary")
            }
            let start = cursor + 2
            guard let end = body[start...].firstRange(of: separator) else {
                throw .badRequest("multipart body is truncated: part \(parts.count + 1) has no closing boundary")
            }
            parts.append(try part(body[start..<end.lowerBound], index: parts.count + 1))
            guard parts.count <= maxParts else { throw .badRequest("multipart body has more than \(maxParts) parts") }
            cursor = end.upperBound
        }
        return parts
    }

    private static func part(_ bytes: Data, index: Int) throws(ServeError) -> FormPart {
        guard let blank = bytes.firstRange(of: Data("\r\n\r\n".utf8)) else {
            throw .badRequest("multipart part \(index) has no blank line after its headers")
        }
        let headerText = String(decoding: bytes[bytes.startIndex..<blank.lowerBound], as: UTF8.self)
        var name: String?, filename: String?, contentType: String?
        for line in headerText.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if field == "content-type" { contentType = value }
            if field == "content-disposition" {
                name = parameter("name", in: value)
                filename = parameter("filename", in: value)
            }
        }
        guard let name else { throw .badRequest("multipart part \(index) has no Content-Disposition name") }
        return FormPart(name: name, filename: filename, contentType: contentType, data: Data(bytes[blank.upperBound...]))
    }

    /// A `key="value"` (or `key=value`) parameter of a header value.
    private static func parameter(_ key: String, in header: String) -> String? {
        var remaining = Substring(header)
        while let range = remaining.range(of: "\(key)=") {
            // Only at a parameter's start ("filename=" must not match "name=").
            let before = remaining[..<range.lowerBound].last
            remaining = remaining[range.upperBound...]
            guard before == nil || before == ";" || before == " " else { continue }
            if remaining.hasPrefix("\"") {
                var value = "", escaped = false
                for character in remaining.dropFirst() {
                    if escaped { value.append(character); escaped = false }
                    else if character == "\\" { escaped = true }
                    else if character == "\"" { return value }
                    else { value.append(character) }
                }
                return value
            }
            return String(remaining.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
