import Foundation
import PetalCore

/// Reads JPEG and PNG files (recognised by their first bytes, whatever the extension) into
/// upright 8-bit RGB, optionally resized. Bad files throw `DataError` naming the file and
/// the reason; nothing here crashes on bad input.
public enum ImageDecoder {
    /// Images larger than this many pixels (by their header) are refused before decoding.
    public static let defaultMaxPixels = 100_000_000

    public enum Format: String, Codable, Sendable { case jpeg, png }

    /// Width, height (as stored, before EXIF orientation), format and EXIF orientation,
    /// from the header only.
    public struct Info: Codable, Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var format: Format
        public var orientation: Int
        /// Width and height once turned upright.
        public var uprightWidth: Int { orientation >= 5 ? height : width }
        public var uprightHeight: Int { orientation >= 5 ? width : height }
    }

    static func readFile(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw DataError.undecodable(path: url.path, reason: "cannot read the file (\(reason))")
        }
    }

    static func format(of bytes: UnsafeRawBufferPointer, path: String) throws -> Format {
        if bytes.isEmpty { throw DataError.undecodable(path: path, reason: "empty file (0 bytes)") }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        let head = bytes.prefix(8).map { String(format: "%02X", $0) }.joined(separator: " ")
        throw DataError.undecodable(path: path, reason: "not a JPEG or PNG image (file starts with bytes \(head))")
    }

    /// Header information without decoding the pixels.
    public static func info(contentsOf url: URL) throws -> Info {
        let data = try readFile(url)
        return try data.withUnsafeBytes { bytes in
            switch try format(of: bytes, path: url.path) {
            case .jpeg:
                let h = try JPEGCodec.header(bytes, path: url.path)
                return Info(width: h.width, height: h.height, format: .jpeg, orientation: JPEGCodec.exifOrientation(bytes))
            case .png:
                let h = try PNGCodec.header(bytes, path: url.path)
                return Info(width: h.width, height: h.height, format: .png, orientation: 1)
            }
        }
    }

    /// The whole image, upright, at its own size.
    public static func decode(contentsOf url: URL, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let data = try readFile(url)
        return try decode(data, path: url.path, maxPixels: maxPixels)
    }

    /// The image upright and resized to exactly `width` x `height` (stretched, like Keras's
    /// `image_dataset_from_directory` without cropping), with an antialiased filter. Large
    /// JPEGs are first reduced by libjpeg-turbo's DCT scaling.
    public static func decode(contentsOf url: URL, width: Int, height: Int,
                              maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let data = try readFile(url)
        return try decode(data, path: url.path, width: width, height: height, maxPixels: maxPixels)
    }

    /// Decodes bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        try decodeOriented(data, path: path, minWidth: 0, minHeight: 0, maxPixels: maxPixels).image
            .oriented(orientationOf(data))
    }

    public static func decode(_ data: Data, path: String, width: Int, height: Int,
                              maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        precondition(width > 0 && height > 0, "ImageDecoder: target size \(width)x\(height)")
        let orientation = orientationOf(data)
        // Resize in stored orientation (axes swapped when the image is turned a quarter) and
        // turn the small result upright: cheaper, and the same since the filter is separable.
        let swaps = orientation >= 5
        let sw = swaps ? height : width, sh = swaps ? width : height
        let stored = try decodeOriented(data, path: path, minWidth: sw, minHeight: sh, maxPixels: maxPixels).image
        return stored.resized(width: sw, height: sh).oriented(orientation)
    }

    static func orientationOf(_ data: Data) -> Int {
        data.withUnsafeBytes { JPEGCodec.exifOrientation($0) }
    }

    static func decodeOriented(_ data: Data, path: String, minWidth: Int, minHeight: Int,
                               maxPixels: Int) throws -> (image: RGBImage, format: Format) {
        try data.withUnsafeBytes { bytes in
            let f = try format(of: bytes, path: path)
            switch f {
            case .jpeg:
                return (try JPEGCodec.decode(bytes, path: path, minWidth: minWidth, minHeight: minHeight, maxPixels: maxPixels), f)
            case .png:
                return (try PNGCodec.decode(bytes, path: path, maxPixels: maxPixels), f)
            }
        }
    }

    /// One file as a normalised [1, 3, H, W] Float32 tensor in NHWC layout, for prediction.
    public static func tensor(contentsOf url: URL, width: Int, height: Int,
                              normalization: InputNormalization) throws -> Tensor {
        let image = try decode(contentsOf: url, width: width, height: height)
        let tensor = try Tensor(layout: .nhwc([1, 3, height, width]))
        let out = tensor.floats.baseAddress!
        image.pixels.withUnsafeBufferPointer { normalization.apply($0.baseAddress!, into: out, count: width * height * 3) }
        return tensor
    }
}
