import Foundation
import PetalTestSupport
import PetalData
import XCTest

/// Crafted images (made here) give a `DataError` naming the file, never a trap or a huge allocation.
final class HostileImageTests: XCTestCase {
    private var dir: URL!

    override func setUp() { dir = Fixtures.temporaryDirectory("petal-hostile-images") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func assertUndecodable(_ url: URL, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url, width: 16, height: 16), file: file, line: line) { error in
            guard case let DataError.undecodable(path, reason)? = error as? DataError else {
                return XCTFail("expected DataError.undecodable, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, url.path, file: file, line: line)
            XCTAssertTrue(reason.contains(words), "'\(reason)' does not say '\(words)'", file: file, line: line)
        }
    }

    func testPNGDeclaring100000By100000PixelsIsRefusedFromItsHeader() throws {
        // Only the signature and IHDR: the limit is checked before any pixel buffer exists.
        let png = TestImages.png(width: 100_000, height: 100_000, bitDepth: 8, colorType: 2, rows: [])
        let url = try png.write(into: dir, "huge.png")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url)) { error in
            XCTAssertEqual(error as? DataError, .tooLarge(path: url.path, width: 100_000, height: 100_000, limit: ImageDecoder.defaultMaxPixels))
            XCTAssertTrue("\(error)".hasPrefix("\(url.path): image is 100000x100000 (10000.0 megapixels), over the limit"), "\(error)")
        }
        // The header alone is still readable, as `petal data inspect` needs.
        XCTAssertEqual(try ImageDecoder.info(contentsOf: url).width, 100_000)
    }

    func testTruncatedJPEGAndPNG() throws {
        let jpeg = try JPEGEncoder.encode(TestImages.gradient(width: 48, height: 48, seed: 5), quality: 90)
        for cut in [2, 20, jpeg.count / 3] {
            assertUndecodable(try jpeg.prefix(cut).write(into: dir, "cut-\(cut).jpg"), "JPEG")
        }
        let png = try PNGEncoder.encode(TestImages.gradient(width: 48, height: 48, seed: 6))
        for cut in [8, 20, png.count / 2] {
            assertUndecodable(try png.prefix(cut).write(into: dir, "cut-\(cut).png"), "PNG")
        }
    }

    func testExifWithOffsetsPointingAnywhereIsIgnored() throws {
        let jpeg = try JPEGEncoder.encode(TestImages.quadrants(width: 16, height: 8), quality: 95)
        // An APP1 Exif segment whose IFD offset (0xFFFFFFF0) and entry count point past the segment.
        let app1: [UInt8] = [0xFF, 0xE1, 0x00, 0x14] + Array("Exif".utf8) + [0, 0, 0x49, 0x49, 42, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0]
        let crafted = Data(jpeg.prefix(2)) + Data(app1) + jpeg.dropFirst(2)
        let url = try crafted.write(into: dir, "exif.jpg")
        XCTAssertEqual(try ImageDecoder.info(contentsOf: url).orientation, 1)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: url).width, 16)
    }

    func testAFolderOrAZeroTargetSize() throws {
        let folder = dir.appendingPathComponent("photo.jpg")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        assertUndecodable(folder, "cannot read the file")
        let png = try PNGEncoder.encode(TestImages.solid(width: 4, height: 4, 9, 9, 9)).write(into: dir, "small.png")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: png, width: 0, height: 16)) { error in
            XCTAssertEqual(error as? DataError, .undecodable(path: png.path, reason: "cannot resize to 0x16 pixels (sides must be 1...65535)"))
        }
    }
}
