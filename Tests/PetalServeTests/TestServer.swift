import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PetalData
import PetalInference
import PetalModels
import PetalServe
import PetalTestSupport
import Synchronization
import XCTest

/// A tiny trained-format model (random weights, 32 px), saved in a temporary folder.
struct TinyModel {
    static let classNames = ["daisy", "rose", "tulip"]
    let folder: URL
    let file: URL

    init(label: String = "serve", seed: UInt64 = 7) throws {
        folder = Fixtures.temporaryDirectory(label)
        file = folder.appendingPathComponent("flowers.safetensors")
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: Self.classNames,
                                           inputSize: 32, base: .none, seed: seed)
        try model.save(to: file)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

/// Test images: distinct, deterministic, at sizes the test chooses.
enum TestImages {
    static func image(_ index: Int, width: Int = 48, height: Int = 40) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let o = (y * width + x) * 3
                image.pixels[o] = UInt8(truncatingIfNeeded: x * 5 + index * 37)
                image.pixels[o + 1] = UInt8(truncatingIfNeeded: y * 7 + index * 11)
                image.pixels[o + 2] = UInt8(truncatingIfNeeded: (x ^ y) * 3 + index * 53)
            }
        }
        return image
    }

    static func jpeg(_ index: Int) throws -> Data { try JPEGEncoder.encode(image(index), quality: 92) }
    static func png(_ index: Int) throws -> Data { try PNGEncoder.encode(image(index)) }
}

/// `petal serve`'s library on 127.0.0.1 and an ephemeral port, in this process.
final class RunningServer: Sendable {
    let server: PetalServer
    let port: Int
    private let task: Task<Void, any Error>

    var base: String { "http://127.0.0.1:\(port)" }

    init(models: [(name: String, url: URL)], configure: (inout ServeConfiguration) -> Void = { _ in }) async throws {
        var configuration = ServeConfiguration()
        configuration.port = 0
        configuration.quiet = true
        configure(&configuration)
        let server = try PetalServer(models: models, configuration: configuration)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        task = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ServeError.internal("the server did not start") }
        self.server = server
        self.port = port
    }

    /// Stops as SIGTERM does and waits for the server to end.
    func stop() async {
        await server.stop()
        _ = try? await task.value
    }
}

/// A response's status, headers and body.
struct Answer {
    var status: Int
    var headers: [(String, String)]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func json() throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)")
    }
    var error: String? { (try? json())?["error"] as? String }
}

/// A real HTTP client (AsyncHTTPClient) talking to the server.
enum Client {
    static func request(_ method: HTTPMethod, _ url: String, body: Data? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                      body: Data(buffer.readableBytesView))
    }

    static func get(_ url: String) async throws -> Answer { try await request(.GET, url) }

    static func post(_ url: String, _ body: Data, contentType: String, headers: [(String, String)] = []) async throws -> Answer {
        try await request(.POST, url, body: body, headers: [("Content-Type", contentType)] + headers)
    }

    /// A multipart/form-data body of (field, file name, content type, bytes) parts.
    static func multipart(_ parts: [(field: String, filename: String?, type: String?, data: Data)]) -> (Data, String) {
        let boundary = "petal-test-\(UUID().uuidString)"
        var body = Data()
        for part in parts {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.field)\"".utf8))
            if let filename = part.filename { body.append(Data("; filename=\"\(filename)\"".utf8)) }
            body.append(Data("\r\n".utf8))
            if let type = part.type { body.append(Data("Content-Type: \(type)\r\n".utf8)) }
            body.append(Data("\r\n".utf8))
            body.append(part.data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}
