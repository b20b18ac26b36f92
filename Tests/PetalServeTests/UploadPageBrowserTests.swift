import AsyncHTTPClient
import NIOHTTP1
import Foundation
import PetalInference
import PetalServe
import PetalTestSupport
import XCTest

/// The upload page in a real browser: headless Chromium, driven over WebDriver (chromedriver),
/// loads /, uploads a flower photo through the page's file input, and the test reads the
/// predicted class from the page.
final class UploadPageBrowserTests: XCTestCase {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    func testUploadPageShowsThePredictedClassInChromium() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.chromium),
              FileManager.default.isExecutableFile(atPath: Self.chromedriver) else {
            throw XCTSkip("SKIPPED: the upload page's browser test needs chromium and chromedriver (.ci/install-chromium.sh installs them)")
        }
        let model = try TinyModel(label: "serve-browser")
        defer { model.remove() }
        let photo: URL
        if let flowers = Fixtures.flowers, let found = Self.firstJPEG(in: flowers) {
            photo = found
        } else {
            print("note: the shared flowers are absent; uploading a generated JPEG instead of a flower photo")
            photo = model.folder.appendingPathComponent("generated.jpg")
            try TestImages.jpeg(5).writeAtomically(to: photo)
        }
        let expected = try ImageClassifier(contentsOf: model.file).classify(.file(photo), top: 1).top[0].className

        let server = try await RunningServer(models: [("flowers", model.file)])
        let driver = try await WebDriver.start(executable: Self.chromedriver)
        defer { driver.stop() }
        let session = try await driver.newSession(chromium: Self.chromium)
        try await driver.post("/session/\(session)/url", ["url": "\(server.base)/"])
        let input = try await driver.element(session: session, css: "#file")
        try await driver.post("/session/\(session)/element/\(input)/value", ["text": photo.path])

        var shown: [String]? = nil
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let value = try await driver.post("/session/\(session)/execute/sync", [
                "script": """
                const r = document.querySelector('.result');
                if (!r || r.dataset.state === 'pending') return null;
                return [r.dataset.state, r.querySelector('.classes .name')?.textContent ?? r.querySelector('.meta').textContent,
                        r.querySelector('.file').textContent];
                """, "args": [Any]()])
            if let list = value as? [String] { shown = list; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        _ = try? await driver.request("DELETE", "/session/\(session)", nil)
        await server.stop()
        let result = try XCTUnwrap(shown, "the page showed no result within 30 s")
        XCTAssertEqual(result[0], "done", "the page's card says: \(result)")
        XCTAssertEqual(result[1], expected, "the page's top class")
        XCTAssertEqual(result[2], photo.lastPathComponent)
    }

    static func firstJPEG(in folder: URL) -> URL? {
        let classes = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil))?.sorted { $0.path < $1.path } ?? []
        for classFolder in classes {
            let files = (try? FileManager.default.contentsOfDirectory(at: classFolder, includingPropertiesForKeys: nil)) ?? []
            if let jpeg = files.sorted(by: { $0.path < $1.path }).first(where: { ["jpg", "jpeg"].contains($0.pathExtension.lowercased()) }) {
                return jpeg
            }
        }
        return nil
    }
}

/// A chromedriver process on a loopback port and its WebDriver (W3C) JSON API.
final class WebDriver: Sendable {
    let process: Process
    let base: String

    init(process: Process, base: String) { self.process = process; self.base = base }

    static func start(executable: String) async throws -> WebDriver {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let driver = WebDriver(process: process, base: "http://127.0.0.1:\(port)")
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let status = try? await driver.request("GET", "/status", nil) as? [String: Any], status["ready"] as? Bool == true {
                return driver
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        driver.stop()
        throw ServeError.internal("chromedriver did not start on port \(port)")
    }

    func stop() { if process.isRunning { process.terminate() } }

    func newSession(chromium: String) async throws -> String {
        let value = try await post("/session", ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": [
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--window-size=412,915"],
        ]]]])
        guard let session = (value as? [String: Any])?["sessionId"] as? String else {
            throw ServeError.internal("chromedriver gave no session: \(String(describing: value))")
        }
        return session
    }

    func element(session: String, css: String) async throws -> String {
        let value = try await post("/session/\(session)/element", ["using": "css selector", "value": css])
        guard let id = (value as? [String: Any])?["element-6066-11e4-a52e-4f735466cecf"] as? String else {
            throw ServeError.internal("no element \(css): \(String(describing: value))")
        }
        return id
    }

    @discardableResult
    func post(_ path: String, _ body: [String: Any]) async throws -> Any? { try await request("POST", path, body) }

    /// One WebDriver command; its "value", or a thrown error with WebDriver's message.
    func request(_ method: String, _ path: String, _ body: [String: Any]?) async throws -> Any? {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let body { request.body = .bytes(try JSONSerialization.data(withJSONObject: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        let json = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: .fragmentsAllowed)
        let value = (json as? [String: Any])?["value"]
        if response.status.code >= 400 {
            throw ServeError.internal("WebDriver \(method) \(path): \(response.status.code) \(String(describing: value))")
        }
        return value is NSNull ? nil : value
    }

    /// A port free on 127.0.0.1 just now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ServeError.internal("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
