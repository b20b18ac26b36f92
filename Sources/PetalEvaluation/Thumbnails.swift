import Foundation
import CTurboJPEG
// libpng comes in through PetalData's dependency on CPNG; the report only needs its
// simplified read API to thumbnail PNG test images.
import CPNG

/// An RGB image, 8 bits per channel, rows packed.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]
    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width; self.height = height; self.pixels = pixels
    }
}

/// Small square JPEG thumbnails of test images, for embedding in report.html as data URIs.
/// Decodes JPEG with libjpeg-turbo (scaled down while decoding, so big photos stay cheap)
/// and PNG with libpng; anything else is an error naming the file.
public enum Thumbnail {
    /// A `side`×`side` centre crop of the image at `url`, encoded as JPEG.
    public static func jpeg(of url: URL, side: Int = 96, quality: Int = 80) throws -> Data {
        let image = try decode(url, atLeast: side)
        return try encodeJPEG(resizedSquare(image, side: side), quality: quality, path: url.path)
    }

    /// `data:image/jpeg;base64,...` for an `<img src>`.
    public static func dataURI(of url: URL, side: Int = 96, quality: Int = 80) throws -> String {
        "data:image/jpeg;base64," + (try jpeg(of: url, side: side, quality: quality)).base64EncodedString()
    }

    /// Decodes a JPEG or PNG file; given `atLeast`, JPEG decodes at the smallest
    /// libjpeg-turbo scale whose shorter side is still at least that many pixels.
    public static func decode(_ url: URL, atLeast minimumSide: Int? = nil) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EvaluationError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            return try decodeJPEG(bytes, minimumSide: minimumSide ?? Int.max, path: url.path)
        }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(bytes, path: url.path) }
        throw EvaluationError.unreadableFile(path: url.path, reason: "not a JPEG or PNG image")
    }

    static func decodeJPEG(_ bytes: [UInt8], minimumSide: Int, path: String) throws -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw EvaluationError.unreadableFile(path: path, reason: "cannot start the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> EvaluationError {
            .unreadableFile(path: path, reason: "\(what): \(String(cString: tjGetErrorStr2(handle)))")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, bytes, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0,
              width > 0, height > 0 else { throw failure("corrupt JPEG header") }

        // Pick the smallest scaling factor that keeps the short side >= minimumSide.
        var scaledWidth = Int(width), scaledHeight = Int(height)
        var factorCount: Int32 = 0
        if minimumSide < min(Int(width), Int(height)), let factors = tjGetScalingFactors(&factorCount) {
            for i in 0..<Int(factorCount) {
                let f = factors[i]
                let w = (Int(width) * Int(f.num) + Int(f.denom) - 1) / Int(f.denom)
                let h = (Int(height) * Int(f.num) + Int(f.denom) - 1) / Int(f.denom)
                if min(w, h) >= minimumSide, w * h < scaledWidth * scaledHeight { scaledWidth = w; scaledHeight = h }
            }
        }
        var pixels = [UInt8](repeating: 0, count: scaledWidth * scaledHeight * 3)
        let status = tjDecompress2(handle, bytes, UInt(bytes.count), &pixels, Int32(scaledWidth), 0,
                                   Int32(scaledHeight), Int32(TJPF_RGB.rawValue), 0)
        // A warning (e.g. a truncated file that still decodes partly) is acceptable for a thumbnail.
        if status != 0 && tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue) { throw failure("corrupt JPEG data") }
        return RGBImage(width: scaledWidth, height: scaledHeight, pixels: pixels)
    }

    static func decodePNG(_ bytes: [UInt8], path: String) throws -> RGBImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        func failure() -> EvaluationError {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            return .unreadableFile(path: path, reason: "corrupt PNG: \(message)")
        }
        guard png_image_begin_read_from_memory(&image, bytes, bytes.count) != 0 else { throw failure() }
        image.format = png_uint_32(PNG_FORMAT_FLAG_COLOR)  // PNG_FORMAT_RGB
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= 100_000_000 else { throw failure() }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        guard png_image_finish_read(&image, nil, &pixels, 0, nil) != 0 else { throw failure() }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The centre square of `image`, box-filtered down (or nearest-neighbour up) to `side`.
    public static func resizedSquare(_ image: RGBImage, side: Int) -> RGBImage {
        let crop = min(image.width, image.height)
        let x0 = (image.width - crop) / 2, y0 = (image.height - crop) / 2
        var out = [UInt8](repeating: 0, count: side * side * 3)
        for oy in 0..<side {
            let sy0 = y0 + oy * crop / side
            let sy1 = max(sy0 + 1, y0 + (oy + 1) * crop / side)
            for ox in 0..<side {
                let sx0 = x0 + ox * crop / side
                let sx1 = max(sx0 + 1, x0 + (ox + 1) * crop / side)
                var sum = (0, 0, 0)
                for sy in sy0..<sy1 {
                    var i = (sy * image.width + sx0) * 3
                    for _ in sx0..<sx1 {
                        sum.0 += Int(image.pixels[i]); sum.1 += Int(image.pixels[i + 1]); sum.2 += Int(image.pixels[i + 2])
                        i += 3
                    }
                }
                let count = (sy1 - sy0) * (sx1 - sx0)
                let o = (oy * side + ox) * 3
                out[o] = UInt8(sum.0 / count); out[o + 1] = UInt8(sum.1 / count); out[o + 2] = UInt8(sum.2 / count)
            }
        }
        return RGBImage(width: side, height: side, pixels: out)
    }

    /// Encodes RGB pixels as a baseline JPEG with 4:2:0 chroma subsampling.
    public static func encodeJPEG(_ image: RGBImage, quality: Int = 80, path: String = "thumbnail") throws -> Data {
        guard let handle = tjInitCompress() else {
            throw EvaluationError.writeFailed(path: path, reason: "cannot start the JPEG encoder")
        }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = tjCompress2(handle, image.pixels, Int32(image.width), 0, Int32(image.height),
                                 Int32(TJPF_RGB.rawValue), &buffer, &size, Int32(TJSAMP_420.rawValue),
                                 Int32(quality), 0)
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw EvaluationError.writeFailed(path: path, reason: "JPEG encoding failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Data(bytes: buffer, count: Int(size))
    }
}
