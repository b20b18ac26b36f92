import Foundation
import PetalTestSupport
@testable import PetalWeights
import XCTest

/// The one downloader, for torchvision's files: checked as torch.hub's `check_hash` checks
/// them (the sha256 must begin with the hex digits in the file's name), against a loopback
/// server: a good file, a wrong hash, a 404 and a refused connection.
final class WeightsDownloaderTests: XCTestCase {
    func testHashPrefixIsReadAsTorchHubReadsIt() {
        XCTAssertEqual(WeightsDownload.hashPrefix(inName: "resnet50-11ad3fa6.pth"), "11ad3fa6")
        XCTAssertEqual(WeightsDownload.hashPrefix(inName: "mobilenet_v3_large-5c1a4163.pth"), "5c1a4163")
        XCTAssertEqual(WeightsDownload.hashPrefix(inName: "efficientnet-lite0-57934424.pth"), "57934424")
        XCTAssertNil(WeightsDownload.hashPrefix(inName: "weights.pth"))
    }

    func testTorchvisionURLsAndFolder() {
        let download = TorchvisionWeights.download("resnet50-11ad3fa6.pth", environment: ["HOME": "/home/u"])
        XCTAssertEqual(download.url.absoluteString, "https://download.pytorch.org/models/resnet50-11ad3fa6.pth")
        XCTAssertEqual(download.destination.path, "/home/u/.cache/petal/weights/resnet50-11ad3fa6.pth")
    }

    func testDownloadsChecksTheHashPrefixAndRenames() throws {
        let body = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let digest = SHA256.hex(body)
        let good = "tiny-\(digest.prefix(8)).pth", wrong = "tiny-00000000.pth"
        let server = try LocalHTTPServer(files: [good: body, wrong: body])
        defer { server.stop() }
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ["PETAL_TORCHVISION_WEIGHTS_URL": server.baseURL, "PETAL_HOME": dir.path]
        let downloader = WeightsDownloader(showProgress: false)
        let weights = dir.appendingPathComponent("weights")

        let url = try downloader.fetch(TorchvisionWeights.download(good, environment: environment))
        XCTAssertEqual(url, weights.appendingPathComponent(good))
        XCTAssertEqual(try Data(contentsOf: url), body)
        // Present now: reused without asking the server again.
        XCTAssertEqual(try downloader.fetch(TorchvisionWeights.download(good, environment: environment)), url)
        XCTAssertEqual(server.requestCount, 1)

        XCTAssertThrowsError(try downloader.fetch(TorchvisionWeights.download(wrong, environment: environment))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("does not begin with 00000000") && message.contains(digest), message)
            XCTAssertTrue(message.contains("--weights FILE"), message)
        }
        XCTAssertThrowsError(try downloader.fetch(TorchvisionWeights.download("absent-1234abcd.pth", environment: environment))) {
            XCTAssertTrue("\($0)".contains("HTTP 404"), "\($0)")
        }
        // Only the good file: no temporary or rejected file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: weights.path), [good])
    }

    func testRefusedConnectionFailsAtOnceNamingTheURLAndTheAlternative() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = "http://127.0.0.1:\(LocalHTTPServer.closedPort())/models"
        let download = TorchvisionWeights.download("resnet50-11ad3fa6.pth",
                                                   environment: ["PETAL_TORCHVISION_WEIGHTS_URL": base, "PETAL_HOME": dir.path])
        let start = Date()
        XCTAssertThrowsError(try WeightsDownloader(showProgress: false).fetch(download)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("\(base)/resnet50-11ad3fa6.pth"), message)
            XCTAssertTrue(message.contains("cannot connect") && message.contains("--weights FILE"), message)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("weights").path), [])
    }
}
