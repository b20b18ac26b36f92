import Foundation
import HTTPTypes
import Hummingbird
import PetalCore

/// What can go wrong serving a request (or starting the server). Each case has its HTTP status;
/// the answer is JSON `{"error": "..."}` whose message names the model, part or option.
public enum ServeError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// A request that cannot be understood: a bad query, JSON, multipart body or tensor.
    case badRequest(String)
    /// A part that looks like an image but does not decode (truncated, corrupt).
    case undecodableImage(part: String, reason: String)
    /// A body or part that is not a JPEG or PNG image.
    case unsupportedMediaType(String)
    /// A body over --max-body-mb.
    case bodyTooLarge(limit: Int)
    /// An image over the megapixel limit.
    case imageTooLarge(part: String, width: Int, height: Int, limitMegapixels: Double)
    case unknownModel(String)
    case notFound(String)
    case methodNotAllowed(String)
    /// The batching queue is full; try again after `retryAfter` seconds.
    case overloaded(retryAfter: Int)
    /// The server is stopping and takes no new work.
    case shuttingDown
    /// A model that cannot be served (at start-up).
    case badModel(path: String, reason: String)
    /// A bad command-line option (at start-up).
    case badOption(String)
    case `internal`(String)

    public var status: HTTPResponse.Status {
        switch self {
        case .badRequest, .undecodableImage, .badModel, .badOption: .badRequest
        case .unsupportedMediaType: .unsupportedMediaType
        case .bodyTooLarge: .contentTooLarge
        case .imageTooLarge: .unprocessableContent
        case .unknownModel, .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .overloaded, .shuttingDown: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let message): message
        case let .undecodableImage(part, reason): "image '\(part)' cannot be decoded: \(reason)"
        case .unsupportedMediaType(let message): message
        case .bodyTooLarge(let limit): "request body is over the limit of \(limit / 1_048_576) MB (--max-body-mb)"
        case let .imageTooLarge(part, width, height, limit):
            "image '\(part)' is \(width)x\(height) (\(String(format: "%.1f", Double(width * height) / 1e6)) megapixels), over the limit of \(limit) megapixels (--max-megapixels)"
        case .unknownModel(let name): "no model named '\(name)' is served"
        case .notFound(let path): "no route for \(path)"
        case .methodNotAllowed(let message): message
        case .overloaded(let seconds): "the server is busy (queue full); retry after \(seconds) s"
        case .shuttingDown: "the server is shutting down"
        case let .badModel(path, reason): "\(path): \(reason)"
        case .badOption(let message): message
        case .internal(let message): "internal error: \(message)"
        }
    }

    public var errorDescription: String? { description }
}

extension ServeError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [:]
        if case .overloaded(let seconds) = self { headers[.retryAfter] = "\(seconds)" }
        return JSONResponse.make(ErrorBody(error: description), status: status, headers: headers)
    }
}

/// The body of every error answer.
struct ErrorBody: Codable, Equatable {
    var error: String
}

/// JSON answers, always through PetalJSON (sorted keys, compact).
enum JSONResponse {
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let data = (try? PetalJSON.encode(value, pretty: false)) ?? Data(#"{"error":"cannot encode the answer"}"#.utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
