import Foundation
import PetalTestSupport
import PetalWeights
import XCTest

final class KerasApplicationsDownloaderTests: XCTestCase {
    func testFileNamesFollowKeras() throws {
        XCTAssertEqual(try KerasApplicationsDownloader.mobileNetV2FileName(alpha: 1.0, size: 224),
                       "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
        XCTAssertEqual(try KerasApplicationsDownloader.mobileNetV2FileName(alpha: 0.35, size: 96),
                       "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
        XCTAssertEqual(try KerasApplicationsDownloader.mobileNetV2FileName(alpha: 0.5, size: 160, includeTop: true),
                       "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_160.h5")
        XCTAssertThrowsError(try KerasApplicationsDownloader.mobileNetV2FileName(alpha: 0.6, size: 224))
        XCTAssertThrowsError(try KerasApplicationsDownloader.mobileNetV2FileName(alpha: 1.0, size: 200)) {
            XCTAssertTrue("\($0)".contains("96, 128, 160, 192, 224"), "\($0)")
        }
    }

    func testDownloadsFromLocalServerChecksAndReuses() throws {
        let name = try KerasApplicationsDownloader.mobileNetV2FileName(alpha: 0.35, size: 96)
        let body = try Data(contentsOf: Fixtures.url("weights/tiny_keras2_notop.h5"))
        let server = try LocalHTTPServer(files: [name: body, "bad.h5": Data("<html>proxy error</html>".utf8)])
        defer { server.stop() }
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let downloader = KerasApplicationsDownloader(directory: dir, showProgress: false,
                                                     environment: ["PETAL_KERAS_WEIGHTS_URL": server.baseURL])
        let url = try downloader.mobileNetV2(alpha: 0.35, size: 96)
        XCTAssertEqual(url, dir.appendingPathComponent(name))
        XCTAssertEqual(try Data(contentsOf: url), body)
        XCTAssertEqual(server.requests, ["/keras/\(name)"])
        // Present now: reused without asking the server again.
        XCTAssertEqual(try downloader.mobileNetV2(alpha: 0.35, size: 96), url)
        XCTAssertEqual(server.requestCount, 1)

        // Missing on the server, and a file that is not HDF5: clear errors, nothing left behind.
        XCTAssertThrowsError(try downloader.mobileNetV2(alpha: 1.0, size: 224)) { error in
            XCTAssertTrue("\(error)".contains("HTTP 404"), "\(error)")
        }
        XCTAssertThrowsError(try downloader.fetch("bad.h5", expectedLayers: ["Conv1"])) { error in
            XCTAssertTrue("\(error)".contains("not a Keras weights file"), "\(error)")
            XCTAssertTrue("\(error)".contains(dir.appendingPathComponent("bad.h5").path), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [name])
    }

    func testUnreachableServerFailsFastWithWhereToPutTheFile() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = LocalHTTPServer.closedPort()
        let downloader = KerasApplicationsDownloader(directory: dir, showProgress: false,
                                                     environment: ["PETAL_KERAS_WEIGHTS_URL": "http://127.0.0.1:\(port)/keras"])
        let start = Date()
        XCTAssertThrowsError(try downloader.mobileNetV2(alpha: 1.0, size: 160)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("cannot connect"), message)
            XCTAssertTrue(message.contains(dir.appendingPathComponent("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5").path), message)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }
}
