@main struct Petal { static func main() {} }
