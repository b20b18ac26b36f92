import Foundation

/// JPEG decoding as Petal does it on every training and prediction image: the header, the
/// EXIF orientation, a full decode and a DCT-scaled decode resized and turned upright.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    let path = "fuzz.jpg"
    // A lower limit than the default keeps each run fast; the limit's check is the same code.
    let maxPixels = 4_000_000
    _ = bytes.withUnsafeBytes { raw in
        (try? JPEGCodec.header(raw, path: path), JPEGCodec.exifOrientation(raw))
    }
    _ = try? ImageDecoder.decode(bytes, path: path, maxPixels: maxPixels)
    _ = try? ImageDecoder.decode(bytes, path: path, width: 7, height: 5, maxPixels: maxPixels)
    return 0
}
