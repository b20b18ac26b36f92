import Foundation
@testable import PetalData

/// Small images with known patterns, and hand-made files (EXIF segments, PNGs of any kind)
/// for the decoding tests.
enum TestImages {
    /// Left half red, right half blue, a green top-left quarter: every orientation differs.
    static func quadrants(width: Int, height: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let rgb: (UInt8, UInt8, UInt8) =
                    x < width / 2 ? (y < height / 2 ? (0, 220, 0) : (220, 0, 0)) : (0, 0, 220)
                img.pixels[i] = rgb.0; img.pixels[i + 1] = rgb.1; img.pixels[i + 2] = rgb.2
            }
        }
        return img
    }

    static func solid(width: Int, height: Int, _ r: UInt8, _ g: UInt8, _ b: UInt8) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for i in 0..<(width * height) { img.pixels[i * 3] = r; img.pixels[i * 3 + 1] = g; img.pixels[i * 3 + 2] = b }
        return img
    }

    /// A distinct smooth image per seed (gradients), so files differ in content.
    static func gradient(width: Int, height: Int, seed: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                img.pixels[i] = UInt8((x * 255 / max(width - 1, 1) + seed * 37) % 256)
                img.pixels[i + 1] = UInt8((y * 255 / max(height - 1, 1) + seed * 71) % 256)
                img.pixels[i + 2] = UInt8((seed * 53) % 256)
            }
        }
        return img
    }

    /// A JPEG with an APP1 Exif segment carrying `orientation`, inserted right after SOI.
    static func withExif(_ jpeg: Data, orientation: Int, bigEndian: Bool = false) -> Data {
        func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 255)] : [UInt8(v & 255), UInt8(v >> 8)] }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? [0, 0] + u16(v) : u16(v) + [0, 0] }
        var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        tiff += u16(42) + u32(8)
        tiff += u16(2)                                         // two entries
        tiff += u16(0x010F) + u16(2) + u32(4) + [0x41, 0x42, 0x43, 0]  // Make = "ABC"
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + [0, 0]
        tiff += u32(0)
        let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 255)] + payload
        var out = Data(jpeg.prefix(2))
        out.append(contentsOf: segment)
        out.append(jpeg.dropFirst(2))
        return out
    }

    // MARK: A minimal PNG writer (stored deflate blocks), for kinds the simplified API does not write.

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// `rows` are the raw scanlines without filter bytes. colorType: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
    static func png(width: Int, height: Int, bitDepth: Int, colorType: Int, rows: [[UInt8]],
                    palette: [UInt8]? = nil) -> Data {
        var raw: [UInt8] = []
        for row in rows { raw.append(0); raw += row }
        var z: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            let final: UInt8 = offset + n == raw.count ? 1 : 0
            z += [final, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
            z += raw[offset..<(offset + n)]
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        z += be32(b << 16 | a)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [UInt8(bitDepth), UInt8(colorType), 0, 0, 0])
        if let palette { out += chunk("PLTE", palette) }
        out += chunk("IDAT", z)
        out += chunk("IEND", [])
        return Data(out)
    }
}

extension Data {
    func write(into dir: URL, _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try write(to: url)
        return url
    }
}
