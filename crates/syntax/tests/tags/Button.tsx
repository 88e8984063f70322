import { useState } from "react";

type Props = { label: string };

export function Button({ label }: Props) {
  const [count, setCount] = useState(0);
  return <Badge count={count} onClick={() => setCount(count + 1)}>{label}</Badge>;
}
